// Where models come from: a model folder or an organism name becomes the model, its tokenizer as
// a TextCodec and the prompt template it is asked with. Every command that runs a model opens it
// here (openModel); a new kind of model (another architecture, a Hugging Face checkpoint) is added
// here and every command gets it.

import { copyFileSync, existsSync, readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { TextCodec } from "../eval/evaluate.ts";
import type { PromptKind } from "../tasks/corpus.ts";
import { readJsonFile } from "../util/fs.ts";
import { loadModel } from "./checkpoint.ts";
import type { ModelConfig } from "./config.ts";
import { loadTokenizer, type Tokenizer } from "./tokenizer.ts";
import type { Transformer } from "./transformer.ts";

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

export const ORGANISMS = ["organism-base", "organism-instruct"] as const;

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
}

/** Open a model by folder or organism name: weights, tokenizer and prompt template. */
export function openModel(nameOrFolder: string, opts: { template?: TemplateChoice } = {}): OpenedModel {
  const folder = resolveModelDir(nameOrFolder);
  const model = loadModel(folder);
  const template = opts.template ?? "auto";
  return {
    model,
    codec: loadCodec(folder),
    kind: template === "auto" ? modelKind(model.config) : template,
    folder,
  };
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
