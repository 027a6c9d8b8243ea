// Statistics of the RL step's rewards and of the study (spec "Metrics"); the evaluator's pass@k,
// maj@k and mean@k are in eval/metrics.ts. Everything here is plain float64 arithmetic; an
// undefined statistic is null, never NaN (NaN is not JSON).

export interface Summary {
  count: number;
  mean: number | null;
  /** Population std (denominator n). */
  std: number | null;
  min: number | null;
  max: number | null;
}

/** Finite values of xs, skipping null / NaN entries. */
function finite(xs: ArrayLike<number | null>): number[] {
  const out: number[] = [];
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i];
    if (x !== null && Number.isFinite(x)) out.push(x);
  }
  return out;
}

/** count, mean, std, min, max over the finite values of xs (null entries are skipped). */
export function summarize(xs: ArrayLike<number | null>): Summary {
  const v = finite(xs);
  const n = v.length;
  if (n === 0) return { count: 0, mean: null, std: null, min: null, max: null };
  let mean = 0;
  for (const x of v) mean += x;
  mean /= n;
  let ss = 0;
  for (const x of v) ss += (x - mean) ** 2;
  return { count: n, mean, std: Math.sqrt(ss / n), min: Math.min(...v), max: Math.max(...v) };
}

/** Pearson correlation over the pairs where both values are finite; null when fewer than two
 *  pairs remain or either side is constant (the correlation is undefined). */
export function pearson(x: ArrayLike<number | null>, y: ArrayLike<number | null>): number | null {
  if (x.length !== y.length) throw new Error(`pearson: ${x.length} vs ${y.length} values`);
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < x.length; i++) {
    const xi = x[i];
    const yi = y[i];
    if (xi === null || yi === null || !Number.isFinite(xi) || !Number.isFinite(yi)) continue;
    a.push(xi);
    b.push(yi);
  }
  const n = a.length;
  if (n < 2) return null;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i];
    mb += b[i];
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = a[i] - ma;
    const db = b[i] - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  if (saa === 0 || sbb === 0) return null;
  const r = sab / Math.sqrt(saa * sbb);
  return Math.max(-1, Math.min(1, r)); // rounding can step just outside [−1, 1]
}

/** Point-biserial correlation of a continuous reward with 0/1 correctness (Pearson on 0/1). */
export function pointBiserial(
  reward: ArrayLike<number | null>,
  correct: ArrayLike<number | boolean | null>,
): number | null {
  const y: (number | null)[] = [];
  for (let i = 0; i < correct.length; i++) {
    const c = correct[i];
    if (c === null) y.push(null);
    else if (c === true || c === 1) y.push(1);
    else if (c === false || c === 0) y.push(0);
    else throw new Error(`pointBiserial: correctness ${i} is ${c}, expected 0/1`);
  }
  return pearson(reward, y);
}

/** Pearson correlation between every pair of the named series: m[a][b]. */
export function correlationMatrix(
  series: Readonly<Record<string, ArrayLike<number | null>>>,
  names: readonly string[] = Object.keys(series),
): Record<string, Record<string, number | null>> {
  const m: Record<string, Record<string, number | null>> = {};
  for (const a of names) {
    m[a] = {};
    for (const b of names) m[a][b] = pearson(series[a], series[b]);
  }
  return m;
}

/** The internal (confidence) rewards, for correlations with correctness and among themselves. */
export const INTERNAL_REWARDS = ["self-certainty", "token-entropy", "trajectory-entropy"] as const;

export interface RewardMetrics {
  /** Mean of every reward over the step's rollouts (null when none is defined). */
  mean: Record<string, number | null>;
  /** Point-biserial correlation of each internal reward with correctness. */
  corrWithCorrectness: Record<string, number | null>;
  /** Pearson correlation among the internal rewards. */
  corrInternal: Record<string, Record<string, number | null>>;
}

/** A step's reward metrics from computeRewards' `values` (every registered reward per rollout). */
export function rewardMetrics(
  values: Readonly<Record<string, readonly (number | null)[]>>,
  internal: readonly string[] = INTERNAL_REWARDS,
): RewardMetrics {
  const mean: Record<string, number | null> = {};
  for (const [name, v] of Object.entries(values)) mean[name] = summarize(v).mean;
  const present = internal.filter((n) => values[n]);
  const corrWithCorrectness: Record<string, number | null> = {};
  const correct = values.correctness;
  for (const n of present) corrWithCorrectness[n] = correct ? pointBiserial(values[n], correct) : null;
  return { mean, corrWithCorrectness, corrInternal: correlationMatrix(values, present) };
}
