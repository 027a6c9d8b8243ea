// A model's chat template (Jinja, from tokenizer_config.json or chat_template.jinja) rendered the
// way transformers' apply_chat_template renders it: with the tokenizer's special tokens as
// variables (bos_token, eos_token, ...), `messages` and `add_generation_prompt` (the library
// itself provides raise_exception(), which templates call on bad input). Rendering uses @huggingface/jinja, Hugging
// Face's own JavaScript Jinja (the one transformers.js uses).
//
// One deliberate difference: transformers renders Llama 3.x templates with today's date in the
// system turn (through strftime_now). rlif passes date_string = "26 Jul 2024", the templates' own
// fallback, so that a prompt is the same on every day a run is repeated or resumed.

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Template } from "@huggingface/jinja";
import type { TokenizerConfig } from "./tokenizer.ts";

export interface ChatMessage {
  role: string;
  content: string;
}

export interface RenderOptions {
  addGenerationPrompt?: boolean;
  /** Extra template variables, e.g. enable_thinking for Qwen3. */
  variables?: Record<string, unknown>;
}

/** The special-token variables transformers passes to every chat template. */
const SPECIAL_KEYS = [
  "bos_token",
  "eos_token",
  "unk_token",
  "sep_token",
  "pad_token",
  "cls_token",
  "mask_token",
] as const;

function tokenText(spec: unknown): string | undefined {
  if (typeof spec === "string") return spec;
  if (spec && typeof spec === "object" && typeof (spec as { content?: unknown }).content === "string")
    return (spec as { content: string }).content;
  return undefined;
}

/** The date Llama 3.x templates fall back to without strftime_now. */
export const FIXED_DATE = "26 Jul 2024";

export class ChatTemplate {
  private readonly template: Template;
  private readonly specials: Record<string, unknown> = {};

  /** `source` names the file the template came from, for errors. */
  constructor(
    readonly text: string,
    config: TokenizerConfig,
    readonly source: string,
  ) {
    try {
      this.template = new Template(text);
    } catch (e) {
      throw new Error(`${source}: chat template does not parse: ${(e as Error).message}`);
    }
    for (const k of SPECIAL_KEYS) {
      const v = tokenText(config[k]);
      if (v !== undefined) this.specials[k] = v;
    }
    const extra = config.additional_special_tokens;
    if (Array.isArray(extra)) this.specials.additional_special_tokens = extra.map(tokenText);
  }

  render(messages: ChatMessage[], opts: RenderOptions = {}): string {
    try {
      return this.template.render({
        date_string: FIXED_DATE,
        ...this.specials,
        ...opts.variables,
        messages,
        add_generation_prompt: opts.addGenerationPrompt ?? false,
      });
    } catch (e) {
      throw new Error(`${this.source}: chat template failed to render: ${(e as Error).message}`);
    }
  }
}

/**
 * The chat template of a tokenizer folder, as transformers finds it: chat_template.jinja, else
 * tokenizer_config.json's chat_template (a string, or a list of named templates: "default").
 * Null when there is none.
 */
export function loadChatTemplate(dir: string, config: TokenizerConfig): ChatTemplate | null {
  const jinjaPath = join(dir, "chat_template.jinja");
  if (existsSync(jinjaPath)) return new ChatTemplate(readFileSync(jinjaPath, "utf8"), config, jinjaPath);
  const configPath = join(dir, "tokenizer_config.json");
  const t = config.chat_template;
  if (t === undefined || t === null) return null;
  if (typeof t === "string") return new ChatTemplate(t, config, configPath);
  if (Array.isArray(t)) {
    const named = t.find((x) => x && typeof x === "object" && x.name === "default");
    if (named && typeof named.template === "string")
      return new ChatTemplate(named.template, config, configPath);
    throw new Error(`${configPath}: chat_template is a list without a "default" template`);
  }
  throw new Error(`${configPath}: chat_template is neither a string nor a list of named templates`);
}
