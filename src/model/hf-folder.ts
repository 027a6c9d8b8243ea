// A Hugging Face model folder as downloaded from the hub (Qwen2/Qwen2.5, Qwen3, Llama 3.x,
// SmolLM2...): config.json, weights (single or sharded, F32/BF16/F16), generation_config.json,
// tokenizer.json + tokenizer_config.json with the chat template. loadHfFolder gives everything
// eval and training need: the model, a text codec with the folder's stop tokens, and the prompt
// format; saveHfFolder writes the same layout back so the folder loads in transformers again.
//
// `assets` is where the tokenizer and generation config live when the weights folder has none
// (an RL checkpoint stores weights and config only; its run records the folder it started from).

import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { TextCodec } from "../eval/evaluate.ts";
import { readJsonFile, writeFileAtomic } from "../util/fs.ts";
import { type ChatTemplate, loadChatTemplate } from "./chat-template.ts";
import { lazyTensors, readModelConfig } from "./checkpoint.ts";
import type { Family, ModelConfig } from "./config.ts";
import { assertFits, type Backend as MemoryBackend, type Purpose, type Workload } from "./memory.ts";
import { choosePromptKind, type PromptKind, renderPrompt } from "./prompt.ts";
import type { SaveDtype } from "./safetensors.ts";
import { loadTokenizer, type Tokenizer } from "./tokenizer.ts";
import { Transformer } from "./transformer.ts";
import { ModelWeights, type SaveWeightsOptions, saveWeights } from "./weights.ts";

/** Files beside the weights that describe the tokenizer and generation; copied on save. */
export const ASSET_FILES = [
  "tokenizer.json",
  "tokenizer_config.json",
  "special_tokens_map.json",
  "chat_template.jinja",
  "generation_config.json",
] as const;

export interface HfFolderInfo {
  folder: string;
  config: ModelConfig;
  family: Family;
  tokenizer: Tokenizer;
  chat: ChatTemplate | null;
  /** Token ids that end a response: generation_config.json, config.json and the tokenizer's EOS. */
  stopIds: number[];
  kind: PromptKind;
  /** Why that kind (printed by the CLI, so an auto choice is never silent). */
  kindReason: string;
}

export interface LoadedHfFolder extends HfFolderInfo {
  model: Transformer;
  codec: TextCodec;
  /** The exact prompt text for a benchmark problem (chat template or plain prompt). */
  prompt(problem: string): string;
}

export interface LoadOptions {
  /** Folder holding tokenizer/generation files when `folder` lacks them (default: folder). */
  assets?: string;
  /** auto (default) | base | instruct. */
  kind?: "auto" | PromptKind;
  /** Refuse at once, before reading weights, when the backend cannot hold the model for this. */
  fit?: { backend: MemoryBackend; purpose: Purpose; workload?: Workload };
}

/** Stop ids named by generation_config.json and config.json (int or list), plus the tokenizer's EOS. */
function stopIdsOf(config: ModelConfig, assets: string, tokenizer: Tokenizer): number[] {
  const ids = new Set<number>();
  const add = (v: unknown, file: string) => {
    if (v === undefined || v === null) return;
    const list = Array.isArray(v) ? v : [v];
    for (const id of list) {
      if (!Number.isInteger(id) || id < 0 || id >= config.vocab_size)
        throw new Error(`${file}: eos_token_id ${JSON.stringify(id)} is not a token id of this model`);
      ids.add(id);
    }
  };
  const gen = join(assets, "generation_config.json");
  if (existsSync(gen)) add(readJsonFile<{ eos_token_id?: unknown }>(gen).eos_token_id, gen);
  add(config.eos_token_id, "config.json");
  ids.add(tokenizer.eosId);
  return [...ids];
}

/** Everything but the weights: config, tokenizer, template, stop ids, prompt kind. */
export function readHfFolder(folder: string, opts: Omit<LoadOptions, "fit"> = {}): HfFolderInfo {
  const config = readModelConfig(folder);
  const assets = opts.assets ?? folder;
  if (!existsSync(join(assets, "tokenizer.json")))
    throw new Error(`${folder}: no tokenizer.json (a model folder needs its tokenizer beside the weights)`);
  const tokenizer = loadTokenizer(assets);
  if (tokenizer.vocabSize > config.vocab_size)
    throw new Error(
      `${join(assets, "tokenizer.json")}: ${tokenizer.vocabSize} tokens, more than config.json's vocab_size ${config.vocab_size}`,
    );
  const chat = loadChatTemplate(assets, tokenizer.config);
  // A checkpoint is judged by the folder its tokenizer comes from (the model its run started from).
  const { kind, reason } = choosePromptKind(assets, config, chat, opts.kind ?? "auto");
  return {
    folder,
    config,
    family: config.model_type as Family,
    tokenizer,
    chat,
    stopIds: stopIdsOf(config, assets, tokenizer),
    kind,
    kindReason: reason,
  };
}

/**
 * Text to ids as transformers prepares prompts: a plain prompt goes through the tokenizer's
 * post-processor (tokenizer(text): BOS for Llama 3, nothing for Qwen); a rendered chat template,
 * which already starts with the BOS token when the model has one, is tokenized without it
 * (apply_chat_template's add_special_tokens=False), so BOS never appears twice.
 */
export function hfCodec(info: Pick<HfFolderInfo, "tokenizer" | "stopIds">): TextCodec {
  const tok = info.tokenizer;
  const bosText = tok.bosId === undefined ? undefined : tok.idToToken(tok.bosId);
  return {
    encode: (text) =>
      tok.encode(text, { addSpecialTokens: !(bosText !== undefined && text.startsWith(bosText)) }),
    // Embeddings are padded past the tokenizer (Qwen: 151936 rows, 151665 tokens); a sampled id
    // with no token decodes to nothing, as in Rust tokenizers.
    decode: (ids) =>
      tok.decode(
        ids.filter((id) => id < tok.vocabSize && tok.idToToken(id) !== undefined),
        { skipSpecialTokens: true },
      ),
    eosId: tok.eosId,
    padId: tok.padId,
    stopIds: info.stopIds,
  };
}

/** Load a model folder for eval or training (see LoadOptions). */
export function loadHfFolder(folder: string, opts: LoadOptions = {}): LoadedHfFolder {
  const info = readHfFolder(folder, opts);
  if (opts.fit) assertFits(folder, info.config, opts.fit.backend, opts.fit.purpose, opts.fit.workload);
  const weights = ModelWeights.open(folder);
  let model: Transformer;
  try {
    model = Transformer.fromWeights(info.config, weights);
  } catch (e) {
    throw new Error(`${weights.describe()}: ${(e as Error).message}`);
  } finally {
    weights.close();
  }
  return {
    ...info,
    model,
    codec: hfCodec(info),
    prompt: (problem) => renderPrompt(problem, info.kind, info.chat),
  };
}

export interface SaveOptions extends SaveWeightsOptions {
  /** Folder whose tokenizer / generation files are copied beside the weights. */
  assets?: string;
}

const TORCH_DTYPE: Record<SaveDtype, string> = { F32: "float32", BF16: "bfloat16", F16: "float16" };

/**
 * Write a model as a Hugging Face folder: config.json (torch_dtype set to what is stored), the
 * weights (sharded above maxShardBytes, in `dtype`), and the tokenizer and generation files of
 * `assets`. Tensors are converted one at a time.
 */
export function saveHfFolder(dir: string, model: Transformer, opts: SaveOptions = {}): string[] {
  mkdirSync(dir, { recursive: true });
  const dtype = opts.dtype ?? "F32";
  const written = saveWeights(dir, lazyTensors(model.parameters()), {
    dtype,
    maxShardBytes: opts.maxShardBytes,
  });
  const config = { ...model.config, torch_dtype: TORCH_DTYPE[dtype] };
  writeFileAtomic(join(dir, "config.json"), `${JSON.stringify(config, null, 2)}\n`);
  written.push("config.json");
  if (opts.assets && opts.assets !== dir)
    for (const f of ASSET_FILES) {
      const src = join(opts.assets, f);
      if (existsSync(src)) {
        writeFileAtomic(join(dir, f), readFileSync(src));
        written.push(f);
      }
    }
  return written;
}
