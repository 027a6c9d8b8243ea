// The model a command works on, with its codec and prompt format: rlif's organism folders
// (rlif_kind in config.json) keep the format they were trained on; any other folder is a Hugging
// Face model (Qwen2/Qwen2.5, Qwen3, Llama 3.x) prompted through its own chat template or a plain
// base prompt (src/model/prompt.ts), refused at once when the backend cannot hold it.

import { getBackend } from "../engine/tensor.ts";
import type { TextCodec } from "../eval/evaluate.ts";
import { applyTemplate, loadCodec, modelKind, tokenizerDir } from "../eval/sources.ts";
import { loadModel, readModelConfig } from "../model/checkpoint.ts";
import { loadHfFolder } from "../model/hf-folder.ts";
import type { Backend, Purpose, Workload } from "../model/memory.ts";
import type { PromptKind } from "../model/prompt.ts";
import type { Transformer } from "../model/transformer.ts";

export interface ModelSource {
  model: Transformer;
  codec: TextCodec;
  kind: PromptKind;
  /** The text the model continues for a problem. */
  prompt(problem: string): string;
  /** One line on what was loaded and why this prompt format. */
  describe: string;
}

/** The memory model of the active compute backend. */
export function activeBackend(): Backend {
  return getBackend().name.startsWith("wasm") ? "wasm" : "js";
}

export function openModelSource(
  dir: string,
  template: "auto" | PromptKind,
  fit: { purpose: Purpose; workload?: Workload },
): ModelSource {
  const config = readModelConfig(dir);
  if (config.rlif_kind !== undefined) {
    const model = loadModel(dir);
    const kind = template === "auto" ? modelKind(model.config) : template;
    return {
      model,
      codec: loadCodec(dir),
      kind,
      prompt: (problem) => applyTemplate(problem, kind),
      describe: `${dir} (organism, ${kind} template)`,
    };
  }
  const m = loadHfFolder(dir, {
    assets: tokenizerDir(dir),
    kind: template,
    fit: { backend: activeBackend(), ...fit },
  });
  return {
    model: m.model,
    codec: m.codec,
    kind: m.kind,
    prompt: m.prompt,
    describe: `${dir} (${m.family}, ${m.kind} prompt: ${m.kindReason})`,
  };
}
