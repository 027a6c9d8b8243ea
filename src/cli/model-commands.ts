// Commands that work on model folders: info, export and mix.

import type { Command } from "commander";
import { getBackend } from "../engine/tensor.ts";
import { loadModel, saveModel } from "../model/checkpoint.ts";
import { saveHfFolder } from "../model/hf-folder.ts";
import { mixModels } from "../model/mix.ts";
import { copyTokenizerFiles, resolveModelDir, tokenizerDir } from "../model/open.ts";
import type { SaveDtype } from "../model/safetensors.ts";
import { describeBackend } from "./backend.ts";
import { describeModelFolder, parseSize } from "./model-info.ts";

export function registerModelCommands(program: Command): void {
  program
    .command("info")
    .description(
      "show a model folder's family, architecture, parameters, stored dtype, and the memory eval and\n" +
        "training need on each backend (read from the headers: no weights are loaded); with --backend [name],\n" +
        "where each op of the compute backend runs",
    )
    .argument("[model]", "model folder (config.json + model.safetensors or shards) or organism name")
    .action((dir: string | undefined, _o: unknown, cmd: Command) => {
      const listBackend = cmd.parent?.getOptionValueSource("backend") === "cli";
      if (listBackend) console.log(describeBackend(getBackend()));
      if (dir === undefined) {
        if (!listBackend)
          throw new Error("info: give a model folder, or --backend to list the backend's kernels");
        return;
      }
      console.log(describeModelFolder(resolveModelDir(dir)));
    });

  program
    .command("export")
    .description(
      "write a model folder (or an RL checkpoint) in the Hugging Face layout transformers loads:\n" +
        "config.json, weights in the chosen dtype (sharded above --max-shard-size), tokenizer and generation config",
    )
    .requiredOption("--model <dir>", "model folder or checkpoint")
    .requiredOption("--out <dir>", "output folder")
    .option("--dtype <dtype>", "f32 | bf16 | f16", "bf16")
    .option("--max-shard-size <size>", "largest weight file, e.g. 5GB, 500MB or bytes", "5GB")
    .action((o: { model: string; out: string; dtype: string; maxShardSize: string }) => {
      const dtype = { f32: "F32", bf16: "BF16", f16: "F16" }[o.dtype.toLowerCase()] as SaveDtype | undefined;
      if (!dtype) throw new Error(`--dtype: expected f32, bf16 or f16, got ${o.dtype}`);
      const written = saveHfFolder(o.out, loadModel(resolveModelDir(o.model)), {
        dtype,
        maxShardBytes: parseSize(o.maxShardSize),
        assets: tokenizerDir(resolveModelDir(o.model)),
      });
      console.log(`wrote ${o.out}: ${written.join(", ")}`);
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
    .action(async (o: { base: string; instruct: string; alpha: string; out: string }) => {
      const alpha = Number(o.alpha);
      const base = resolveModelDir(o.base);
      const mixed = await mixModels(loadModel(base), loadModel(resolveModelDir(o.instruct)), alpha);
      await saveModel(o.out, mixed);
      copyTokenizerFiles(base, o.out);
      console.log(`wrote ${o.out} (alpha ${alpha})`);
    });
}
