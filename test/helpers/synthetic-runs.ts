// Synthetic metrics.jsonl files for report and analysis tests: an accuracy curve at evaluation
// steps and per-step rollout statistics, in the trainer's format.

import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface SyntheticRun {
  /** Held-out greedy accuracy by step (step 0 = before training). */
  acc: Record<number, number>;
  /** Held-out sampled accuracy (mean@k) by step, when the run evaluated samples. */
  sampled?: Record<number, number>;
  steps: number;
  entropy?: (step: number) => number;
  transitional?: (step: number) => number;
  n?: number;
  guardFiredAt?: number;
  rollbackTo?: number;
}

export function metricsLines(r: SyntheticRun): string {
  const lines: unknown[] = [];
  const ev = (step: number) => ({
    n: r.n ?? 100,
    greedy_accuracy: r.acc[step],
    ...(r.sampled?.[step] !== undefined ? { mean_at_k: r.sampled[step] } : {}),
    greedy: { mean_token_entropy: 1, transitional_rate: 0 },
  });
  lines.push({ step: 0, eval: ev(0) });
  const last = r.guardFiredAt ?? r.steps;
  for (let s = 1; s <= last; s++) {
    const m: Record<string, unknown> = {
      step: s,
      "reward/self-certainty": 0.1 * s,
      accuracy: 0.5,
      mean_token_entropy: r.entropy ? r.entropy(s) : 2,
      transitional_rate: r.transitional ? r.transitional(s) : 1,
      response_length: 50 - s,
      "corr/self-certainty~token-entropy": 0.9,
      "corr/self-certainty~correctness": s % 2 ? 0.1 : -0.1,
    };
    if (r.acc[s] !== undefined) m.eval = ev(s);
    if (s === r.guardFiredAt) m.guard = "fired: entropy low";
    lines.push(m);
  }
  if (r.rollbackTo !== undefined) lines.push({ step: last, event: "guard-rollback", to_step: r.rollbackTo });
  return `${lines.map((l) => JSON.stringify(l)).join("\n")}\n`;
}

export function writeSyntheticRun(dir: string, r: SyntheticRun): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "metrics.jsonl"), metricsLines(r));
  return dir;
}
