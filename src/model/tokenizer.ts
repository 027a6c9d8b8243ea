// Tokenizers: real Hugging Face `tokenizer.json` files through @huggingface/tokenizers, and the
// organism's own character-level tokenizer, stored in the same format so that it loads with the
// same library here and with Rust/Python `tokenizers` elsewhere.
//
// The character tokenizer is a BPE model with no merges and no pre-tokenizer: every character of
// the vocabulary is one token, and the special tokens are added tokens matched before the model
// runs (so "<|user|>" is one id, never 8 characters). A Fuse decoder joins tokens back without
// spaces. (WordLevel would be the natural model type, but @huggingface/tokenizers 0.2.0 has none.)

import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { Tokenizer as HfTokenizer } from "@huggingface/tokenizers";

/** The organism's special tokens. */
export const SPECIAL_TOKENS = {
  /** Ends a pretraining document; also prepended as BOS (GPT-2 style document separator). */
  endOfText: "<|endoftext|>",
  pad: "<|pad|>",
  /** Chat template: `<|user|>\n{question}\n<|assistant|>\n{answer}<|end|>`. */
  user: "<|user|>",
  assistant: "<|assistant|>",
  end: "<|end|>",
  /** Stands for any character outside the vocabulary. */
  unk: "<|unk|>",
} as const;

const SPECIAL_LIST: readonly string[] = Object.values(SPECIAL_TOKENS);

export interface Tokenizer {
  /** Token ids of `text`; special-token strings in the text become their single ids. No BOS/EOS
   *  is added unless addSpecialTokens, which runs tokenizer.json's post-processor (as transformers'
   *  tokenizer(text) does: Llama 3 prepends <|begin_of_text|>, Qwen adds nothing). */
  encode(text: string, options?: { addSpecialTokens?: boolean }): number[];
  /** Text of `ids`; special tokens are kept unless skipSpecialTokens. Throws on ids outside the vocabulary. */
  decode(ids: readonly number[], options?: { skipSpecialTokens?: boolean }): string;
  readonly vocabSize: number;
  readonly eosId: number;
  readonly padId: number;
  /** Id to put before every sequence (training and inference alike), if the model uses one. */
  readonly bosId?: number;
  tokenToId(token: string): number | undefined;
  idToToken(id: number): string | undefined;
  /** The tokenizer.json and tokenizer_config.json contents this tokenizer was built from. */
  readonly json: TokenizerJson;
  readonly config: TokenizerConfig;
}

/** The parts of tokenizer.json that rlif reads itself; the rest is passed through to the library. */
export interface TokenizerJson {
  model: { type?: string; vocab: Record<string, number> | unknown; [k: string]: unknown };
  added_tokens?: { id: number; content: string; special?: boolean; [k: string]: unknown }[];
  [k: string]: unknown;
}

type TokenSpec = string | { content: string } | null | undefined;

export interface TokenizerConfig {
  eos_token?: TokenSpec;
  pad_token?: TokenSpec;
  bos_token?: TokenSpec;
  unk_token?: TokenSpec;
  clean_up_tokenization_spaces?: boolean;
  [k: string]: unknown;
}

function tokenContent(spec: TokenSpec): string | undefined {
  if (spec === null || spec === undefined) return undefined;
  return typeof spec === "string" ? spec : spec.content;
}

/** EOS names tried, in order, when tokenizer_config.json does not say. */
const EOS_FALLBACKS = ["<|endoftext|>", "</s>", "<|im_end|>", "<|end_of_text|>", "<eos>"];

class HfBackedTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly eosId: number;
  readonly padId: number;
  readonly bosId?: number;
  private readonly hf: HfTokenizer;
  private readonly specialIds: Set<number>;

  constructor(
    readonly json: TokenizerJson,
    readonly config: TokenizerConfig,
    source: string,
  ) {
    if (typeof json !== "object" || json === null || typeof json.model !== "object" || json.model === null) {
      throw new Error(`${source}: not a tokenizer.json (no "model" object)`);
    }
    try {
      // The library defaults clean_up_tokenization_spaces to true, which rewrites " ." to "." on
      // decode; Rust `tokenizers` never does that, so only do it where the config asks.
      this.hf = new HfTokenizer(json, {
        ...config,
        clean_up_tokenization_spaces: config.clean_up_tokenization_spaces ?? false,
      });
    } catch (e) {
      throw new Error(`${source}: cannot build tokenizer: ${(e as Error).message}`);
    }
    const vocab = this.hf.get_vocab(true);
    let maxId = -1;
    for (const id of vocab.values()) maxId = Math.max(maxId, id);
    this.vocabSize = maxId + 1;
    this.specialIds = new Set((json.added_tokens ?? []).filter((t) => t.special).map((t) => t.id));

    const lookup = (name: string, spec: TokenSpec): number | undefined => {
      const content = tokenContent(spec);
      if (content === undefined) return undefined;
      const id = this.hf.token_to_id(content);
      if (id === undefined)
        throw new Error(`${source}: ${name} ${JSON.stringify(content)} is not in the vocabulary`);
      return id;
    };
    let eos = lookup("eos_token", config.eos_token);
    if (eos === undefined) {
      for (const name of EOS_FALLBACKS) {
        eos = this.hf.token_to_id(name);
        if (eos !== undefined) break;
      }
    }
    if (eos === undefined) {
      throw new Error(
        `${source}: cannot tell the EOS token; put "eos_token" in tokenizer_config.json beside it`,
      );
    }
    this.eosId = eos;
    this.padId = lookup("pad_token", config.pad_token) ?? eos;
    const bos = lookup("bos_token", config.bos_token);
    if (bos !== undefined) this.bosId = bos;
  }

  encode(text: string, options: { addSpecialTokens?: boolean } = {}): number[] {
    if (text.length === 0) return [];
    return this.hf.encode(text, { add_special_tokens: options.addSpecialTokens ?? false }).ids;
  }

  decode(ids: readonly number[], options: { skipSpecialTokens?: boolean } = {}): string {
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize || this.hf.id_to_token(id) === undefined) {
        throw new Error(`decode: token id ${id} is not in the vocabulary (size ${this.vocabSize})`);
      }
    }
    const kept = options.skipSpecialTokens ? ids.filter((id) => !this.specialIds.has(id)) : ids;
    if (kept.length === 0) return "";
    return this.hf.decode([...kept], { skip_special_tokens: false });
  }

  tokenToId(token: string): number | undefined {
    return this.hf.token_to_id(token);
  }

  idToToken(id: number): string | undefined {
    return this.hf.id_to_token(id);
  }
}

/** A tokenizer from tokenizer.json contents (and optionally tokenizer_config.json contents). */
export function tokenizerFromJson(
  json: unknown,
  config: TokenizerConfig = {},
  source = "tokenizer.json",
): Tokenizer {
  return new HfBackedTokenizer(json as TokenizerJson, config, source);
}

function readJson(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new Error(`cannot read ${path}: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${path}: invalid JSON: ${(e as Error).message}`);
  }
}

/**
 * Loads `path` (a tokenizer.json, or a folder holding one). A tokenizer_config.json beside it, if
 * present, supplies the EOS / PAD / BOS tokens, as in Hugging Face model folders.
 */
export function loadTokenizer(path: string): Tokenizer {
  const file = existsSync(path) && statSync(path).isDirectory() ? join(path, "tokenizer.json") : path;
  const json = readJson(file);
  const configPath = join(dirname(file), "tokenizer_config.json");
  const config = existsSync(configPath) ? (readJson(configPath) as TokenizerConfig) : {};
  if (typeof config !== "object" || config === null) throw new Error(`${configPath}: not a JSON object`);
  return tokenizerFromJson(json, config, file);
}

/** Writes tokenizer.json and tokenizer_config.json into `dir` (created if missing; atomic per file). */
export function saveTokenizer(tokenizer: Tokenizer, dir: string): void {
  mkdirSync(dir, { recursive: true });
  const write = (name: string, value: unknown) => {
    const target = join(dir, name);
    const tmp = `${target}.tmp-${process.pid}`;
    writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`);
    renameSync(tmp, target);
  };
  write("tokenizer.json", tokenizer.json);
  write("tokenizer_config.json", tokenizer.config);
}

/** Printable ASCII and newline: always in the character vocabulary, whatever the corpus holds. */
function baseAlphabet(): string[] {
  const chars = ["\n"];
  for (let c = 0x20; c < 0x7f; c++) chars.push(String.fromCharCode(c));
  return chars;
}

const SPECIAL_PATTERN = new RegExp(SPECIAL_LIST.map((s) => s.replace(/[|]/g, "\\|")).join("|"), "g");

// Transformers chat template matching formatPrompt(problem, "instruct") in src/tasks/corpus.ts.
const CHAT_TEMPLATE =
  "{% for message in messages %}{% if message['role'] == 'user' %}<|user|>\n{{ message['content'] }}\n<|assistant|>\n" +
  "{% elif message['role'] == 'assistant' %}{{ message['content'] }}<|end|>{% endif %}{% endfor %}";

/**
 * A character-level tokenizer: the special tokens (ids 0-5, in SPECIAL_TOKENS order), then printable
 * ASCII, newline and every other character found in `texts`, sorted by code point.
 */
export function buildCharTokenizer(texts: Iterable<string>): Tokenizer {
  const chars = new Set(baseAlphabet());
  for (const text of texts) {
    for (const ch of text.replace(SPECIAL_PATTERN, "")) chars.add(ch);
  }
  const sorted = [...chars].sort((x, y) => x.codePointAt(0)! - y.codePointAt(0)!);
  const vocab: Record<string, number> = {};
  SPECIAL_LIST.forEach((s, i) => {
    vocab[s] = i;
  });
  sorted.forEach((ch, i) => {
    vocab[ch] = SPECIAL_LIST.length + i;
  });
  const json: TokenizerJson = {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: SPECIAL_LIST.map((content, id) => ({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: null,
    pre_tokenizer: null,
    post_processor: null,
    decoder: { type: "Fuse" },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: SPECIAL_TOKENS.unk,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: [],
    },
  };
  const config: TokenizerConfig = {
    tokenizer_class: "PreTrainedTokenizerFast",
    bos_token: SPECIAL_TOKENS.endOfText,
    eos_token: SPECIAL_TOKENS.endOfText,
    pad_token: SPECIAL_TOKENS.pad,
    unk_token: SPECIAL_TOKENS.unk,
    additional_special_tokens: [SPECIAL_TOKENS.user, SPECIAL_TOKENS.assistant, SPECIAL_TOKENS.end],
    clean_up_tokenization_spaces: false,
    chat_template: CHAT_TEMPLATE,
  };
  return tokenizerFromJson(json, config, "buildCharTokenizer");
}
