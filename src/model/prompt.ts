// Prompts for real models, as the paper and the Qwen2.5-Math evaluations pose them: the problem
// and the instruction to reason step by step and put the final answer in \boxed{} (what rlif's
// grader extracts). An instruct model gets it as the user turn of its own chat template, with the
// generation prompt opened; a base model gets a plain zero-shot "Problem: ... Solution:" text.
// (The organism keeps its own trained format: src/tasks/corpus.ts.)

import { basename } from "node:path";
import type { PromptKind } from "../tasks/corpus.ts";
import type { ChatTemplate } from "./chat-template.ts";
import type { ModelConfig } from "./config.ts";

export type { PromptKind };

export const REASONING_INSTRUCTION =
  "Please reason step by step, and put your final answer within \\boxed{}.";

/** The user message an instruct model receives for a problem. */
export function userMessage(problem: string): string {
  return `${problem}\n${REASONING_INSTRUCTION}`;
}

/** The text a model continues for `problem`. */
export function renderPrompt(problem: string, kind: PromptKind, chat: ChatTemplate | null): string {
  if (kind === "base") return `Problem: ${problem}\n${REASONING_INSTRUCTION}\nSolution:`;
  if (!chat) throw new Error("the instruct prompt needs a chat template, and this model has none");
  return chat.render([{ role: "user", content: userMessage(problem) }], { addGenerationPrompt: true });
}

/**
 * base or instruct for `auto`: the kind rlif recorded (rlif_kind), else instruct when the model has
 * a chat template and its folder name does not say "base" (hub names: Qwen2.5-1.5B-Instruct,
 * Qwen3-1.7B-Base, SmolLM2-135M-Instruct), else base. Base models often ship a chat template too,
 * so the reason is reported and --template overrides.
 */
export function choosePromptKind(
  folder: string,
  config: ModelConfig,
  chat: ChatTemplate | null,
  choice: "auto" | PromptKind,
): { kind: PromptKind; reason: string } {
  if (choice === "instruct" && !chat)
    throw new Error(`${folder}: --template instruct needs a chat template, and this model has none`);
  if (choice !== "auto") return { kind: choice, reason: "chosen by flag" };
  if (config.rlif_kind === "instruct" || config.rlif_kind === "base")
    return { kind: config.rlif_kind, reason: "rlif_kind in config.json" };
  if (!chat) return { kind: "base", reason: "no chat template" };
  if (/(^|[-_.])base($|[-_.])/i.test(basename(folder)))
    return { kind: "base", reason: 'folder name says "base"' };
  return { kind: "instruct", reason: `chat template in ${basename(chat.source)}` };
}
