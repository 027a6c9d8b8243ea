// Where problems come from: "organism:<split>", a shipped benchmark or a JSONL file of problems;
// the prompt templates per model kind and the grader per source. (Models come from model/open.ts.)

import { type ExtractMode, gradeResponse } from "../grading/index.ts";
import { BENCHMARK_NAMES, benchmarkPath, loadJsonlProblems } from "../tasks/benchmarks.ts";
import { formatPrompt, type PromptKind } from "../tasks/corpus.ts";
import { distinctProblems, generateProblems, SPLITS, type Split } from "../tasks/world.ts";
import type { EvalProblem } from "./evaluate.ts";

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
    // Held-out splits use a fixed seed so every run is scored on the same problems, each once.
    const ps = split === "train" ? generateProblems(split, seed, limit) : distinctProblems(split, 0, limit);
    return ps.map((p) => ({ id: p.id, problem: p.prompt, answer: p.answer }));
  }
  return loadJsonlProblems(benchmarkPath(source, ORGANISM_SOURCES))
    .slice(0, limit)
    .map((p) => ({ id: String(p.id), problem: p.problem, answer: p.answer }));
}

export function applyTemplate(problem: string, kind: PromptKind): string {
  return formatPrompt({ prompt: problem }, kind);
}

/** Problems with the organism's prompt template of `kind` applied: what a model is asked. */
export function withTemplate(problems: SourceProblem[], kind: PromptKind): EvalProblem[] {
  return withPrompt(problems, (problem) => applyTemplate(problem, kind));
}

/** Problems as a model is asked them, by its own prompt (OpenedModel.prompt). */
export function withPrompt(problems: SourceProblem[], prompt: (problem: string) => string): EvalProblem[] {
  return problems.map((p) => ({ id: p.id, prompt: prompt(p.problem), answer: p.answer }));
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
