// Held-out evaluation during training: a validation set (read by every choice: best checkpoint,
// peak step, guard rollback) at every evaluation step, and a test set (reported, never chosen on)
// at the steps its schedule names. Each evaluation returns its summary and its per-problem lines
// for evals.jsonl.

import { Random } from "../engine/random.ts";
import type { Transformer } from "../model/transformer.ts";
import { type EvalSplit, type ProblemLine, problemLines } from "../analysis/records.ts";
import { type EvalOptions, type EvalProblem, type EvalSummary, evaluate, type TextCodec } from "./evaluate.ts";

export interface HeldOutSet {
  split: EvalSplit;
  problems: EvalProblem[];
  /** Evaluation options without the random stream: each evaluation restarts it from `seed`, so the
   *  same model gives the same samples at every step (common random numbers across steps). */
  options: Omit<EvalOptions, "rng">;
  seed: number;
}

export interface HeldOutResult {
  split: EvalSplit;
  summary: EvalSummary;
  lines: ProblemLine[];
}

/** Evaluate one set at `step`; `why` marks an evaluation made outside the schedule. */
export async function evaluateHeldOut(
  model: Transformer,
  codec: TextCodec,
  set: HeldOutSet,
  step: number,
  why?: string,
): Promise<HeldOutResult> {
  const { records, summary } = await evaluate(model, codec, set.problems, { ...set.options, rng: new Random(set.seed) });
  return { split: set.split, summary, lines: problemLines(step, set.split, records, why) };
}

/** The accuracy a choice is made on: sampled (mean@k) when the set draws samples, else greedy. */
export function selectionScore(s: EvalSummary): number {
  return s.mean_at_k ?? s.greedy_accuracy;
}
