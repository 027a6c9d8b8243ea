// Commands that work on model folders: info and mix.

import type { Command } from "commander";
import { getBackend } from "../engine/tensor.ts";
import { loadModel, saveModel } from "../model/checkpoint.ts";
import { mixModels } from "../model/mix.ts";
import { copyTokenizerFiles, resolveModelDir } from "../model/open.ts";
import { describeBackend } from "./backend.ts";

export function registerModelCommands(program: Command): void {
  program
    .command("info")
    .description(
      "show a model folder's architecture and parameter count; with --backend [name], where each op of the compute backend runs",
    )
    .argument("[model]", "model folder (config.json + model.safetensors) or organism name")
    .action((dir: string | undefined, _o: unknown, cmd: Command) => {
      const listBackend = cmd.parent?.getOptionValueSource("backend") === "cli";
      if (listBackend) console.log(describeBackend(getBackend()));
      if (dir === undefined) {
        if (!listBackend)
          throw new Error("info: give a model folder, or --backend to list the backend's kernels");
        return;
      }
      const m = loadModel(resolveModelDir(dir));
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
    .requiredOption("--base <model>", "base model folder or organism name")
    .requiredOption(
      "--instruct <model>",
      "instruct model folder or organism name (same architecture and tokenizer)",
    )
    .requiredOption("--alpha <x>", "mixing weight in [0, 1]")
    .requiredOption("--out <dir>", "output model folder")
    .action((o: { base: string; instruct: string; alpha: string; out: string }) => {
      const alpha = Number(o.alpha);
      const base = resolveModelDir(o.base);
      const mixed = mixModels(loadModel(base), loadModel(resolveModelDir(o.instruct)), alpha);
      saveModel(o.out, mixed);
      copyTokenizerFiles(base, o.out);
      console.log(`wrote ${o.out} (alpha ${alpha})`);
    });
}
