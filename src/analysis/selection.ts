// Choices made after (or during) training — the peak step, a rollback target — read validation
// records only. The test split reports; it never chooses. `ValRecords` is a branded type, so a
// test record cannot be passed here by mistake.

import type { ProblemMetric, ValRecords } from "./records.ts";

/**
 * The evaluated step with the highest validation accuracy (mean over problems of `metric`), the
 * earliest on ties, among the steps `allowed` accepts (e.g. those that still have a checkpoint, or
 * that precede a guard's firing). Null when no such step was evaluated.
 */
export function peakStep(
  val: ValRecords,
  metric: ProblemMetric = "sampled",
  allowed: (step: number) => boolean = () => true,
): number | null {
  let best: { step: number; value: number } | null = null;
  for (const step of val.steps()) {
    if (!allowed(step)) continue;
    const v = val.mean(step, metric);
    if (v === null || Number.isNaN(v)) continue;
    if (!best || v > best.value) best = { step, value: v };
  }
  return best?.step ?? null;
}

/** One setting of a method that validation chooses among (e.g. KL-Cov's k), with its runs'
 *  validation records: the only records the choice can read. */
export interface CandidateRuns {
  label: string;
  runs: readonly { seed: number; final: number; val: ValRecords }[];
}

export interface CandidateChoice {
  chosen: string;
  /** The common last step the candidates were compared at. */
  step: number;
  metric: ProblemMetric;
  /** Per candidate, the mean over its seeds of the validation accuracy at `step` (over `problems`,
   *  the fewest any of its runs evaluated). */
  scores: { label: string; score: number; seeds: number; problems: number }[];
}

/**
 * The candidate with the highest validation accuracy at the runs' last step (mean over problems,
 * then over seeds; the first listed on ties). The last step, because that is where the remedy is
 * meant to act (keep the gain to the end). Null until every candidate has runs of the same seeds,
 * all finished at the same step with a validation evaluation there: a choice among unfinished
 * trials would change as they finish.
 */
export function bestCandidate(
  cands: readonly CandidateRuns[],
  metric: ProblemMetric = "sampled",
): CandidateChoice | null {
  if (!cands.length || cands.some((c) => !c.runs.length)) return null;
  const seedsOf = (c: CandidateRuns) => JSON.stringify(c.runs.map((r) => r.seed).sort((a, b) => a - b));
  const step = cands[0].runs[0].final;
  if (cands.some((c) => seedsOf(c) !== seedsOf(cands[0]) || c.runs.some((r) => r.final !== step)))
    return null;
  const scores: CandidateChoice["scores"] = [];
  for (const c of cands) {
    const vs = c.runs.map((r) => r.val.mean(step, metric));
    if (vs.some((v) => v === null || Number.isNaN(v))) return null;
    scores.push({
      label: c.label,
      score: (vs as number[]).reduce((a, b) => a + b, 0) / vs.length,
      seeds: vs.length,
      problems: Math.min(...c.runs.map((r) => r.val.at(step)?.size ?? 0)),
    });
  }
  const best = scores.reduce((a, b) => (b.score > a.score ? b : a));
  return { chosen: best.label, step, metric, scores };
}
