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
