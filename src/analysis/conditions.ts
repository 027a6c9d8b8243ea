// One condition of the study (a model × reward, or a mixing α) summarised over its seeds: gains in
// held-out accuracy and the trend of entropy, transitional-word rate and length.

import {
  type AccuracyMetric,
  type Collapse,
  type Curve,
  detectCollapse,
  endWindows,
  evalCurve,
  finalGain,
  peakGain,
  type Spread,
  spread,
  stepCurve,
} from "./curves.ts";
import type { RunMetrics } from "./runs.ts";

export type RunGroup = "base" | "instruct" | "mix" | "guard";

export interface RunInfo {
  id: string;
  group: RunGroup;
  /** Model folder the run starts from. */
  model: string;
  reward: string;
  seed: number;
  steps: number;
  alpha?: number;
  /** A base-model condition beyond the paper's (e.g. "random-noclip", the random reward without
   *  the clip): its name; the paper's runs have none and are named by their reward. */
  method?: string;
  /** One of the settings validation chooses among for `method` (e.g. KL-Cov's "k0.002"). */
  candidate?: string;
  /** Run folder (holds metrics.jsonl). */
  dir: string;
}

/** What a run's condition is called within its group: the method (and candidate) when it has one,
 *  else the reward. Run folders are <group>-<name>-s<seed>; the paper's keep <group>-<reward>-s<seed>. */
export function conditionName(r: { reward: string; method?: string; candidate?: string }): string {
  if (!r.method) return r.reward;
  return r.candidate ? `${r.method}-${r.candidate}` : r.method;
}

/** A condition's key (summary, report): group/reward for the paper's, group/<method> beyond it. */
export const conditionKey = (r: {
  group: string;
  reward: string;
  alpha?: number;
  method?: string;
  candidate?: string;
}) => (r.group === "mix" ? `mix/α=${r.alpha}` : `${r.group}/${conditionName(r)}`);

/** Whether a run (or condition) is one of the paper's: no method beyond it. */
export const isPaperCondition = (r: { method?: string }) => !r.method;

/** The method fields of a run, only those it has (the paper's runs' objects stay as they were). */
export function methodOf(r: { method?: string; candidate?: string }): {
  method?: string;
  candidate?: string;
} {
  return {
    ...(r.method !== undefined ? { method: r.method } : {}),
    ...(r.candidate !== undefined ? { candidate: r.candidate } : {}),
  };
}

export interface LoadedRun extends RunInfo {
  metrics: RunMetrics;
}

export interface ConditionSummary {
  group: RunGroup;
  reward: string;
  alpha?: number;
  method?: string;
  candidate?: string;
  seeds: number;
  steps: number;
  /** Problems per held-out evaluation. */
  evalN: number | null;
  start: Spread | null;
  /** Peak held-out accuracy within the early window (the first `earlyFraction` of the steps, at
   *  least up to the first evaluation) minus the start. */
  early: Spread | null;
  /** Peak over the whole run minus the start. */
  peak: Spread | null;
  /** Last evaluation minus the start. */
  final: Spread | null;
  /** Early peak minus the last evaluation: how much of the early gain was lost. */
  drop: Spread | null;
  /** Mean token entropy of the first step's rollouts: sampled from the untrained model. */
  initialEntropy: Spread | null;
  /** Rollout statistics: mean of the first and of the last 20% of steps (per seed, then spread). */
  entropy: { first: Spread | null; last: Spread | null };
  transitional: { first: Spread | null; last: Spread | null };
  length: { first: Spread | null; last: Spread | null };
  /** Share of held-out responses cut at the length limit (no final answer), at step 0 and at the
   *  last evaluation: greedy responses for greedy accuracy, the samples for sampled accuracy. */
  truncated: { first: Spread | null; last: Spread | null };
  /** Per seed: first steps of entropy / transitional-rate / accuracy collapse (null = none). */
  collapse: Collapse[];
  /** Decision margin for gains: 2·max(SE over seeds, SE of an accuracy difference on evalN problems). */
  margin: number;
}

/** Standard error of the difference of two accuracies near p measured on n problems. */
export function evalNoise(p: number, n: number): number {
  const q = Math.min(Math.max(p, 1 / n), 1 - 1 / n);
  return Math.sqrt((2 * q * (1 - q)) / n);
}

export function gainMargin(gains: Spread | null, start: number, n: number | null): number {
  const seedSe = gains && gains.n > 1 ? gains.std / Math.sqrt(gains.n) : 0;
  const evalSe = n ? evalNoise(start, n) : 0;
  return 2 * Math.max(seedSe, evalSe);
}

function windows(curves: Curve[]) {
  const w = curves.map((c) => endWindows(c));
  return { first: spread(w.map((x) => x?.first)), last: spread(w.map((x) => x?.last)) };
}

/** A condition's gains in one accuracy metric. The margin's evaluation term uses the number of
 *  problems also for mean@k: the k samples of a problem are not independent draws of the set. */
export function summarizeCondition(
  runs: LoadedRun[],
  earlyFraction = 0.5,
  metric: AccuracyMetric = "greedy_accuracy",
): ConditionSummary {
  if (!runs.length) throw new Error("summarizeCondition: no runs");
  const steps = Math.max(...runs.map((r) => r.steps));
  const acc = runs.map((r) => evalCurve(r.metrics, metric));
  // The early window holds at least the first evaluation after step 0, however coarse the grid.
  const early = acc.map((c) =>
    peakGain(c, Math.max(earlyFraction * steps, c.find((p) => p.step > 0)?.step ?? 0)),
  );
  const all = acc.map((c) => peakGain(c));
  const fin = acc.map((c) => finalGain(c));
  const ns = runs
    .flatMap((r) => r.metrics.evals.map((e) => e.eval.n))
    .filter((x): x is number => typeof x === "number");
  const evalN = ns.length ? Math.min(...ns) : null;
  const start = spread(early.map((g, i) => g?.start ?? acc[i].find((p) => p.step === 0)?.value));
  const earlyS = spread(early.map((g) => g?.gain));
  const margin = gainMargin(earlyS, start?.mean ?? 0, evalN);
  return {
    group: runs[0].group,
    reward: runs[0].reward,
    alpha: runs[0].alpha,
    ...methodOf(runs[0]),
    seeds: runs.length,
    steps,
    evalN,
    start,
    early: earlyS,
    peak: spread(all.map((g) => g?.gain)),
    final: spread(fin),
    drop: spread(early.map((g, i) => (g && fin[i] !== null ? g.gain - (fin[i] as number) : null))),
    initialEntropy: spread(runs.map((r) => stepCurve(r.metrics, "mean_token_entropy")[0]?.value)),
    entropy: windows(runs.map((r) => stepCurve(r.metrics, "mean_token_entropy"))),
    transitional: windows(runs.map((r) => stepCurve(r.metrics, "transitional_rate"))),
    length: windows(runs.map((r) => stepCurve(r.metrics, "response_length"))),
    truncated: (() => {
      const path = metric === "mean_at_k" ? "sampled.truncated_frac" : "greedy.truncated_frac";
      const cs = runs.map((r) => evalCurve(r.metrics, path));
      return { first: spread(cs.map((c) => c[0]?.value)), last: spread(cs.map((c) => c.at(-1)?.value)) };
    })(),
    collapse: runs.map((r) => detectCollapse(r.metrics, { margin, metric })),
    margin,
  };
}
