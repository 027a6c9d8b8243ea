// The study's per-step mechanism signals (issue 10, item 7), read between validation evaluations:
// does a reward's accuracy peak come when its within-group AUROC against correctness falls to 0.5,
// and how large is the covariance of the sampled tokens' log-probability with their advantage
// (the driver of entropy change under policy gradient: positive means entropy falls)?

import { INTERNAL_REWARDS } from "../rl/stats.ts";
import { conditionKey, isPaperCondition, type LoadedRun } from "./conditions.ts";
import { type Spread, spread, stepCurve } from "./curves.ts";

export interface MechanismWindow {
  /** Training steps from..to (inclusive), ending at a validation evaluation. */
  from: number;
  to: number;
  /** Per run: the mean over the window's steps; then the spread over runs (seeds). */
  auroc: Spread | null;
  cov: Spread | null;
  /** Sampled validation accuracy (mean@k) at the window's last step. */
  val: Spread | null;
}

export interface MechanismRow {
  condition: string;
  /** The internal reward whose within-group AUROC the row shows. */
  signal: string;
  seeds: number;
  windows: MechanismWindow[];
}

/** The signal a run's row shows: its own reward; for RLVR, self-certainty's (does verified reward
 *  make the model's confidence more or less informative?). */
export const signalOf = (reward: string): string =>
  (INTERNAL_REWARDS as readonly string[]).includes(reward) ? reward : "self-certainty";

/** Sampled validation accuracy by step (the trainer writes it into the step's line). */
function validationAccuracy(r: LoadedRun): Map<number, number> {
  const m = new Map<number, number>();
  for (const s of r.metrics.steps) {
    const v = (s.val as { mean_at_k?: unknown } | undefined)?.mean_at_k;
    if (typeof v === "number") m.set(s.step, v);
  }
  return m;
}

/** One row per paper condition of the base and instruct groups whose runs logged the signals. */
export function mechanismRows(runs: readonly LoadedRun[]): MechanismRow[] {
  const byCondition = new Map<string, LoadedRun[]>();
  for (const r of runs) {
    if ((r.group !== "base" && r.group !== "instruct") || !isPaperCondition(r)) continue;
    if (!r.metrics.steps.some((s) => typeof s[`auroc/${signalOf(r.reward)}`] === "number")) continue;
    const k = conditionKey(r);
    byCondition.set(k, [...(byCondition.get(k) ?? []), r]);
  }
  return [...byCondition].map(([condition, rs]) => {
    const signal = signalOf(rs[0].reward);
    const vals = rs.map(validationAccuracy);
    const ends = [...new Set(vals.flatMap((v) => [...v.keys()]))].filter((s) => s > 0).sort((a, b) => a - b);
    const windows = ends.map((to, i) => {
      const from = i ? ends[i - 1] + 1 : 1;
      const inWindow = (r: LoadedRun, key: string) =>
        spread(
          stepCurve(r.metrics, key)
            .filter((p) => p.step >= from && p.step <= to)
            .map((p) => p.value),
        )?.mean;
      return {
        from,
        to,
        auroc: spread(rs.map((r) => inWindow(r, `auroc/${signal}`))),
        cov: spread(rs.map((r) => inWindow(r, "entropy_cov"))),
        val: spread(vals.map((v) => v.get(to))),
      };
    });
    return { condition, signal, seeds: rs.length, windows };
  });
}
