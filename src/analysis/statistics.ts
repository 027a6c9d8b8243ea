// Inference for the study's verdicts: paired, seed-aware intervals, equivalence tests, Holm's
// correction, power, and the within-group AUROC of a reward against correctness. Every effect is a
// mean of paired per-problem differences laid out seeds × problems (the same problems are evaluated
// at every step of every run), so intervals come from a bootstrap that resamples seeds and
// problems independently (a crossed design, both random).

import { Random } from "../engine/random.ts";

/** Paired differences: d[s][p] for seed s and problem p (every row over the same problems). */
export type PairedGrid = readonly (readonly number[])[];

export interface Interval {
  estimate: number;
  lo: number;
  hi: number;
  /** Confidence level of [lo, hi] (two-sided). */
  level: number;
  /** Bootstrap standard error. */
  se: number;
  /** Two-sided bootstrap p-value for "effect = 0" (percentile inversion, floored at 1/B). */
  p: number;
  seeds: number;
  problems: number;
}

export interface BootstrapOptions {
  /** Resamples (default 2000). */
  resamples?: number;
  /** Two-sided level (default 0.95). */
  level?: number;
  /** Seed of the resampling (deterministic reports). */
  seed?: number;
}

function gridMean(d: PairedGrid): number {
  let s = 0;
  let n = 0;
  for (const row of d)
    for (const x of row) {
      s += x;
      n++;
    }
  return s / n;
}

function checkGrid(d: PairedGrid): number {
  if (!d.length) throw new Error("paired grid: no seeds");
  const P = d[0].length;
  if (!P) throw new Error("paired grid: no problems");
  for (const row of d) {
    if (row.length !== P) throw new Error(`paired grid: rows of ${row.length} and ${P} problems`);
    for (const x of row) if (!Number.isFinite(x)) throw new Error(`paired grid: non-finite value ${x}`);
  }
  return P;
}

/** Quantile q of sorted xs (linear interpolation between order statistics). */
export function quantile(sorted: readonly number[], q: number): number {
  const h = (sorted.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.ceil(h);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

/**
 * Percentile bootstrap over seeds and problems of the mean paired difference. Each resample
 * draws S seeds and P problems with replacement, independently, and averages the S×P cells.
 * With one seed it is a bootstrap over problems alone (seed-to-seed variation is then unmeasured,
 * and the interval says only what the problems can).
 */
export function pairedBootstrap(d: PairedGrid, o: BootstrapOptions = {}): Interval {
  const P = checkGrid(d);
  const S = d.length;
  const B = o.resamples ?? 2000;
  const level = o.level ?? 0.95;
  const rng = new Random(o.seed ?? 12345);
  // Row sums over a problem resample are computed per seed with one pass over the drawn columns.
  const counts = new Float64Array(P);
  const boots = new Array<number>(B);
  for (let b = 0; b < B; b++) {
    counts.fill(0);
    for (let j = 0; j < P; j++) counts[rng.below(P)]++;
    let total = 0;
    for (let i = 0; i < S; i++) {
      const row = d[S === 1 ? 0 : rng.below(S)];
      let s = 0;
      for (let j = 0; j < P; j++) if (counts[j]) s += counts[j] * row[j];
      total += s;
    }
    boots[b] = total / (S * P);
  }
  boots.sort((a, b) => a - b);
  const estimate = gridMean(d);
  const m = boots.reduce((a, x) => a + x, 0) / B;
  const se = Math.sqrt(boots.reduce((a, x) => a + (x - m) ** 2, 0) / (B - 1));
  let below = 0;
  let above = 0;
  for (const x of boots) {
    if (x <= 0) below++;
    if (x >= 0) above++;
  }
  const p = Math.min(1, Math.max(1 / B, (2 * Math.min(below, above)) / B));
  const a = (1 - level) / 2;
  return {
    estimate,
    lo: quantile(boots, a),
    hi: quantile(boots, 1 - a),
    level,
    se,
    p,
    seeds: S,
    problems: P,
  };
}

/** A percentile interval of a statistic over independent units. */
export interface UnitInterval {
  estimate: number;
  lo: number;
  hi: number;
  level: number;
  /** Units the statistic was computed over. */
  units: number;
}

/**
 * Percentile bootstrap of any statistic of independent units (e.g. the problems of an evaluation,
 * each with its group of samples): every resample draws as many units with replacement and
 * recomputes the statistic, so pooled statistics (a within-group AUROC, a ratio of sums) get an
 * interval that respects the grouping. Resamples on which the statistic is undefined (NaN: e.g. a
 * ratio whose denominator drew no unit) are left out.
 */
export function unitBootstrap<T>(
  units: readonly T[],
  stat: (units: readonly T[]) => number,
  o: BootstrapOptions = {},
): UnitInterval {
  const n = units.length;
  if (!n) throw new Error("unitBootstrap: no units");
  const B = o.resamples ?? 2000;
  const level = o.level ?? 0.95;
  const rng = new Random(o.seed ?? 12345);
  const draw = new Array<T>(n);
  const boots: number[] = [];
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < n; i++) draw[i] = units[rng.below(n)];
    const x = stat(draw);
    if (Number.isFinite(x)) boots.push(x);
  }
  if (!boots.length) throw new Error("unitBootstrap: the statistic is not finite on any resample");
  boots.sort((a, b) => a - b);
  const a = (1 - level) / 2;
  return { estimate: stat(units), lo: quantile(boots, a), hi: quantile(boots, 1 - a), level, units: n };
}

/** Element-wise a − b of two grids of the same shape (e.g. a reward vs RLVR, same seeds and problems). */
export function subtractGrids(a: PairedGrid, b: PairedGrid): number[][] {
  if (a.length !== b.length) throw new Error(`paired grids of ${a.length} and ${b.length} seeds`);
  return a.map((row, i) => {
    if (row.length !== b[i].length)
      throw new Error(`paired grids of ${row.length} and ${b[i].length} problems`);
    return row.map((x, j) => x - b[i][j]);
  });
}

export type EquivalenceVerdict = "equivalent" | "not equivalent" | "undecided";

export interface EquivalenceResult {
  /** The 1 − 2α interval the decision uses (two one-sided tests at α = 0.05 → a 90% interval). */
  interval: Interval;
  bound: number;
  verdict: EquivalenceVerdict;
}

/**
 * Two one-sided tests (TOST) for |effect| < bound: equivalent when the 90% interval lies inside
 * (−bound, bound); not equivalent when it lies wholly outside; otherwise the data cannot tell.
 */
export function equivalenceTest(d: PairedGrid, bound: number, o: BootstrapOptions = {}): EquivalenceResult {
  const interval = pairedBootstrap(d, { ...o, level: 0.9 });
  const verdict: EquivalenceVerdict =
    interval.lo > -bound && interval.hi < bound
      ? "equivalent"
      : interval.lo >= bound || interval.hi <= -bound
        ? "not equivalent"
        : "undecided";
  return { interval, bound, verdict };
}

/**
 * One-sided non-inferiority at α = 0.05: the effect is not below −bound when the 90% interval's
 * lower end is above −bound; inferior when its upper end is below −bound.
 */
export function nonInferiorityTest(
  d: PairedGrid,
  bound: number,
  o: BootstrapOptions = {},
): EquivalenceResult {
  const interval = pairedBootstrap(d, { ...o, level: 0.9 });
  const verdict: EquivalenceVerdict =
    interval.lo > -bound ? "equivalent" : interval.hi < -bound ? "not equivalent" : "undecided";
  return { interval, bound, verdict };
}

/** Holm's step-down adjusted p-values (family-wise error control), in the input order. */
export function holm(ps: readonly number[]): number[] {
  const m = ps.length;
  const order = ps.map((p, i) => ({ p, i })).sort((a, b) => a.p - b.p);
  const out = new Array<number>(m);
  let running = 0;
  order.forEach(({ p, i }, rank) => {
    running = Math.max(running, Math.min(1, (m - rank) * p));
    out[i] = running;
  });
  return out;
}

/** Standard normal quantile (Acklam's rational approximation, relative error < 1.2e-9). */
export function normalQuantile(q: number): number {
  if (!(q > 0 && q < 1)) throw new Error(`normalQuantile: q must be in (0, 1), got ${q}`);
  const a = [
    -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716,
    2.506628277459239,
  ];
  const b = [
    -54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572,
  ];
  const c = [
    -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968,
    2.938163982698783,
  ];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const tail = (t: number) => {
    const r = Math.sqrt(-2 * Math.log(t));
    return (
      (((((c[0] * r + c[1]) * r + c[2]) * r + c[3]) * r + c[4]) * r + c[5]) /
      ((((d[0] * r + d[1]) * r + d[2]) * r + d[3]) * r + 1)
    );
  };
  const pl = 0.02425;
  if (q < pl) return tail(q);
  if (q > 1 - pl) return -tail(1 - q);
  const r = q - 0.5;
  const s = r * r;
  return (
    ((((((a[0] * s + a[1]) * s + a[2]) * s + a[3]) * s + a[4]) * s + a[5]) * r) /
    (((((b[0] * s + b[1]) * s + b[2]) * s + b[3]) * s + b[4]) * s + 1)
  );
}

export interface PowerInputs {
  /** Standard deviation over problems of one seed's paired per-problem difference. */
  sdProblem: number;
  /** Standard deviation over seeds of a condition's mean effect (seed-to-seed variation). */
  sdSeed: number;
  problems: number;
  seeds: number;
  /** Two-sided significance level (default 0.05). */
  alpha?: number;
  /** Power (default 0.8). */
  power?: number;
}

/** Standard error of the grid mean under the crossed design: seed variance over S, problem-level
 *  variance over S·P. */
export function designSe(i: Pick<PowerInputs, "sdProblem" | "sdSeed" | "problems" | "seeds">): number {
  return Math.sqrt(i.sdSeed ** 2 / i.seeds + i.sdProblem ** 2 / (i.seeds * i.problems));
}

/** Smallest true effect detected with the given power by a two-sided test at level alpha. */
export function minimumDetectableEffect(i: PowerInputs): number {
  const alpha = i.alpha ?? 0.05;
  const power = i.power ?? 0.8;
  return (normalQuantile(1 - alpha / 2) + normalQuantile(power)) * designSe(i);
}

/**
 * AUROC of a score for telling correct from wrong samples *within* each group (a prompt's samples,
 * the comparison GRPO makes), pooled over groups: over every (correct, wrong) pair of the same
 * group, the share where the correct one scores higher, ties counting half. Groups that are all
 * right or all wrong carry no pairs. Returns null when no group has both.
 */
export function withinGroupAuroc(
  groups: readonly { scores: readonly number[]; correct: readonly boolean[] }[],
): { auroc: number; pairs: number; groups: number } | null {
  let wins = 0;
  let pairs = 0;
  let used = 0;
  for (const g of groups) {
    const right = g.scores.filter((_, i) => g.correct[i]);
    const wrong = g.scores.filter((_, i) => !g.correct[i]);
    if (!right.length || !wrong.length) continue;
    used++;
    for (const r of right)
      for (const w of wrong) {
        wins += r > w ? 1 : r === w ? 0.5 : 0;
        pairs++;
      }
  }
  return pairs ? { auroc: wins / pairs, pairs, groups: used } : null;
}
