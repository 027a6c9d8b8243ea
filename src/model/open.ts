// Where models come from: a model folder or an organism name becomes the model, its tokenizer as
// a TextCodec and the prompt it is asked with. Every command that runs a model opens it here
// (openModel). rlif's organism folders (rlif_kind in config.json) keep the format they were trained
// on; any other folder is a Hugging Face model (Qwen2/Qwen2.5, Qwen3, Llama 3.x: hf-folder.ts),
// prompted through its chat template or a plain base prompt, and refused at once when the active
// backend cannot hold it.

import { copyFileSync, existsSync, readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { getBackend } from "../engine/tensor.ts";
import type { TextCodec } from "../eval/evaluate.ts";
import { formatPrompt, type PromptKind } from "../tasks/corpus.ts";
import { readJsonFile } from "../util/fs.ts";
import { loadModel, readModelConfig } from "./checkpoint.ts";
import type { ModelConfig } from "./config.ts";
import { loadHfFolder } from "./hf-folder.ts";
import type { Backend, Purpose, Workload } from "./memory.ts";
import { loadTokenizer, type Tokenizer } from "./tokenizer.ts";
import type { Transformer } from "./transformer.ts";

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

export const ORGANISMS = [
  "organism-base",
  "organism-instruct",
  "organism-v2-base",
  "organism-v2-instruct",
  "organism-v2-k0",
  // Dose-response points: κ applied in stage 2 from organism-v2-k0's stage 1 (docs/organism.md).
  "organism-v2-kappa0.5",
  "organism-v2-kappa1",
] as const;

/** A prompt template, or "auto": the kind recorded in the model's config.json. */
export type TemplateChoice = PromptKind | "auto";
export const TEMPLATES: readonly TemplateChoice[] = ["auto", "base", "instruct"];

export interface OpenedModel {
  model: Transformer;
  codec: TextCodec;
  /** The prompt template the model is asked with. */
  kind: PromptKind;
  /** The model folder (an organism name resolved to its folder under models/). */
  folder: string;
  /** The exact text the model continues for a problem. */
  prompt(problem: string): string;
  /** One line on what was opened and why this prompt. */
  describe: string;
}

export interface OpenOptions {
  template?: TemplateChoice;
  /** What the model will be used for: a model the active backend cannot hold is refused at once. */
  fit?: { purpose: Purpose; workload?: Workload };
}

/** Open a model by folder or organism name: weights, tokenizer and prompt. */
export function openModel(nameOrFolder: string, opts: OpenOptions = {}): OpenedModel {
  const folder = resolveModelDir(nameOrFolder);
  const template = opts.template ?? "auto";
  if (readModelConfig(folder).rlif_kind === undefined) return openHfModel(folder, template, opts.fit);
  const model = loadModel(folder);
  const kind = template === "auto" ? modelKind(model.config) : template;
  return {
    model,
    codec: loadCodec(folder),
    kind,
    folder,
    prompt: (problem) => formatPrompt({ prompt: problem }, kind),
    describe: `${folder} (organism, ${kind} template)`,
  };
}

function openHfModel(folder: string, template: TemplateChoice, fit: OpenOptions["fit"]): OpenedModel {
  const m = loadHfFolder(folder, {
    assets: tokenizerDir(folder),
    kind: template,
    fit: fit && { backend: activeBackend(), ...fit },
  });
  return {
    model: m.model,
    codec: m.codec,
    kind: m.kind,
    folder,
    prompt: m.prompt,
    describe: `${folder} (${m.family}, ${m.kind} prompt: ${m.kindReason})`,
  };
}

/** The memory model of the active compute backend. */
export function activeBackend(): Backend {
  return getBackend().name.startsWith("wasm") ? "wasm" : "js";
}

/** A model folder from a path or an organism name (shipped under models/). */
export function resolveModelDir(nameOrPath: string): string {
  if ((ORGANISMS as readonly string[]).includes(nameOrPath)) {
    const dir = join(REPO_ROOT, "models", nameOrPath);
    if (!existsSync(join(dir, "model.safetensors")))
      throw new Error(`${nameOrPath} is not built: run \`rlif pretrain\` / \`rlif sft\` (see README)`);
    return dir;
  }
  if (!existsSync(join(nameOrPath, "config.json")))
    throw new Error(`${nameOrPath}: not a model folder (no config.json)`);
  return nameOrPath;
}

/** The kind recorded in an rlif model's config.json (rlif_kind), defaulting to base. */
export function modelKind(config: ModelConfig): PromptKind {
  return config.rlif_kind === "instruct" ? "instruct" : "base";
}

/** Tokenizer of a model folder as the TextCodec that sampling needs (BOS prepended when it has one). */
export function codecFor(tok: Tokenizer): TextCodec {
  const stopIds = [tok.eosId];
  for (const s of ["<|end|>", "<|endoftext|>"]) {
    const id = tok.tokenToId(s);
    if (id !== undefined && !stopIds.includes(id)) stopIds.push(id);
  }
  return {
    encode: (text) => (tok.bosId === undefined ? tok.encode(text) : [tok.bosId, ...tok.encode(text)]),
    decode: (ids) => tok.decode(ids, { skipSpecialTokens: true }),
    eosId: tok.eosId,
    padId: tok.padId,
    stopIds,
  };
}

/** Where a model folder's tokenizer is: the folder itself, or for an RL checkpoint
 *  (<run>/checkpoints/step-N, weights only) the model its run started from. */
export function tokenizerDir(modelDir: string): string {
  if (existsSync(join(modelDir, "tokenizer.json"))) return modelDir;
  const run = join(modelDir, "..", "..", "config.resolved.json");
  if (existsSync(run)) {
    const from = readJsonFile<{ model_dir?: unknown }>(run).model_dir;
    if (typeof from === "string" && existsSync(join(from, "tokenizer.json"))) return from;
  }
  return modelDir; // loadTokenizer names the missing file
}

export function loadCodec(modelDir: string): TextCodec {
  return codecFor(loadTokenizer(tokenizerDir(modelDir)));
}

/** Copy a model folder's tokenizer files (tokenizer.json, tokenizer_config.json,
 *  special_tokens_map.json, chat_template.jinja) and generation_config.json (its stop tokens) into
 *  another model folder, e.g. one with derived weights. */
export function copyTokenizerFiles(from: string, to: string): void {
  const extra = ["special_tokens_map.json", "chat_template.jinja", "generation_config.json"];
  for (const f of readdirSync(from))
    if (f.startsWith("tokenizer") || extra.includes(f)) copyFileSync(join(from, f), join(to, f));
}
