// Where problems and models come from: "organism:<split>" or a JSONL file of problems, and a model
// folder or an organism name. Prompt templates per model kind live here too.

import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type ExtractMode, gradeResponse } from "../grading/index.ts";
import type { ModelConfig } from "../model/config.ts";
import { loadTokenizer, type Tokenizer } from "../model/tokenizer.ts";
import { BENCHMARK_NAMES, benchmarkPath, loadJsonlProblems } from "../tasks/benchmarks.ts";
import { formatPrompt, type PromptKind } from "../tasks/corpus.ts";
import { generateProblems, SPLITS, type Split } from "../tasks/world.ts";
import { readJsonFile } from "../util/fs.ts";
import type { TextCodec } from "./evaluate.ts";

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

export const ORGANISMS = ["organism-base", "organism-instruct"] as const;

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

export interface SourceProblem {
  id: string;
  problem: string;
  answer: string;
}

const ORGANISM_SOURCES = SPLITS.map((s) => `organism:${s}`);

/** What a problem source can be, for help texts. */
export const SOURCE_SYNTAX = `${[...BENCHMARK_NAMES, ...ORGANISM_SOURCES].join(", ")}, or a JSONL file with problem/answer`;

/** Problems of "organism:<split>" (seeded), of a shipped benchmark by short name (math500, …) or
 *  of a JSONL file with problem/answer fields. A file with no problems is an error. */
export function loadProblems(source: string, limit: number, seed = 0): SourceProblem[] {
  const m = /^organism:(.+)$/.exec(source);
  if (m) {
    const split = m[1] as Split;
    if (!SPLITS.includes(split))
      throw new Error(`unknown organism split "${m[1]}"; valid: ${SPLITS.join(", ")}`);
    // Held-out splits use a fixed seed so every run is scored on the same problems.
    const s = split === "train" ? seed : 0;
    return generateProblems(split, s, limit).map((p) => ({ id: p.id, problem: p.prompt, answer: p.answer }));
  }
  return loadJsonlProblems(benchmarkPath(source, ORGANISM_SOURCES))
    .slice(0, limit)
    .map((p) => ({ id: String(p.id), problem: p.problem, answer: p.answer }));
}

export function applyTemplate(problem: string, kind: PromptKind): string {
  return formatPrompt({ prompt: problem }, kind);
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

export function loadCodec(modelDir: string) {
  return codecFor(loadTokenizer(tokenizerDir(modelDir)));
}

/** Organism answers are boxed integers; benchmarks use the auto extractor. */
export function makeGrader(
  source: string,
): (response: string, gold: string) => { answer: string | null; correct: boolean } {
  const mode: ExtractMode = source.startsWith("organism:") ? "boxed" : "auto";
  return (response, gold) => {
    const g = gradeResponse(response, gold, { mode });
    return { answer: g.extracted, correct: g.equal };
  };
}
