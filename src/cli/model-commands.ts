// Commands that work on model folders: info and mix.

import { copyFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { mixModels } from "../analysis/mix.ts";
import { loadModel, saveModel } from "../model/checkpoint.ts";

export function registerModelCommands(program: Command): void {
  program
    .command("info")
    .description("show a model folder's architecture and parameter count")
    .argument("<model>", "model folder (config.json + model.safetensors)")
    .action((dir: string) => {
      const m = loadModel(dir);
      const d = m.dims;
      console.log(
        `${dir}: ${m.config.model_type}, ${(m.numParameters() / 1e6).toFixed(3)}M parameters\n` +
          `  layers ${d.L}, hidden ${d.d}, heads ${d.Hq} (kv ${d.Hkv}) x ${d.D}, mlp ${d.ff}, vocab ${d.V}, ` +
          `tied ${m.config.tie_word_embeddings}, context ${m.config.max_position_embeddings}`,
      );
    });

  program
    .command("mix")
    .description("interpolate weights: (1 - alpha) * base + alpha * instruct, parameter by parameter")
    .requiredOption("--base <dir>", "base model folder")
    .requiredOption("--instruct <dir>", "instruct model folder (same architecture and tokenizer)")
    .requiredOption("--alpha <x>", "mixing weight in [0, 1]")
    .requiredOption("--out <dir>", "output model folder")
    .action((o: { base: string; instruct: string; alpha: string; out: string }) => {
      const alpha = Number(o.alpha);
      const mixed = mixModels(loadModel(o.base), loadModel(o.instruct), alpha);
      saveModel(o.out, mixed);
      const tok = join(o.base, "tokenizer.json");
      if (existsSync(tok)) copyFileSync(tok, join(o.out, "tokenizer.json"));
      console.log(`wrote ${o.out} (alpha ${alpha})`);
    });
}
