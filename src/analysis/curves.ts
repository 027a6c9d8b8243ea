// Curves over training steps: extraction from runs, aggregation over seeds, gains and collapse.
// Definitions used by the report and documented in docs/reproduce.md.

import type { RunMetrics } from "./runs.ts";

export interface Point {
  step: number;
  value: number;
}
export type Curve = Point[];

export interface Spread {
  n: number;
  mean: number;
  /** Sample standard deviation (n − 1 denominator); 0 for a single value. */
  std: number;
  min: number;
  max: number;
}

export interface AggPoint extends Spread {
  step: number;
}

const isNum = (x: unknown): x is number => typeof x === "number" && Number.isFinite(x);

/** Spread of finite values, or null when there are none. */
export function spread(xs: readonly (number | null | undefined)[]): Spread | null {
  const v = xs.filter(isNum);
  if (!v.length) return null;
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  const ss = v.reduce((a, b) => a + (b - mean) ** 2, 0);
  return {
    n: v.length,
    mean,
    std: v.length > 1 ? Math.sqrt(ss / (v.length - 1)) : 0,
    min: Math.min(...v),
    max: Math.max(...v),
  };
}

/** A dotted path inside an object: "greedy.mean_token_entropy". */
function at(obj: Record<string, unknown>, path: string): unknown {
  let cur: unknown = obj;
  for (const k of path.split(".")) {
    if (typeof cur !== "object" || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

/** A per-step rollout metric (e.g. mean_token_entropy) as a curve; non-numbers are skipped. */
export function stepCurve(run: RunMetrics, key: string): Curve {
  return run.steps.flatMap((s) => (isNum(s[key]) ? [{ step: s.step, value: s[key] as number }] : []));
}

/** Held-out accuracy: greedy, or the mean over the k samples per problem (temperature 1). */
export type AccuracyMetric = "greedy_accuracy" | "mean_at_k";

/** A held-out evaluation metric (e.g. greedy_accuracy) as a curve, including step 0. */
export function evalCurve(run: RunMetrics, path: string = "greedy_accuracy"): Curve {
  return run.evals.flatMap((e) => {
    const v = at(e.eval, path);
    return isNum(v) ? [{ step: e.step, value: v }] : [];
  });
}

/** Mean and spread over seeds at every step that any curve has (each step over the curves that
 *  have it; n says how many). */
export function aggregate(curves: readonly Curve[]): AggPoint[] {
  const by = new Map<number, number[]>();
  for (const c of curves)
    for (const p of c) {
      const l = by.get(p.step);
      if (l) l.push(p.value);
      else by.set(p.step, [p.value]);
    }
  return [...by.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([step, vs]) => ({ step, ...(spread(vs) as Spread) }));
}

const valueAt = (c: Curve, step: number) => c.find((p) => p.step === step)?.value;

export interface Gain {
  /** Value before training (step 0). */
  start: number;
  /** Best value within the window and its step. */
  peak: number;
  peakStep: number;
  gain: number;
}

/** Early gain: max of the curve over steps in (0, fraction·totalSteps] minus its step-0 value.
 *  Null when step 0 or every point of the window is missing. */
export function earlyGain(c: Curve, totalSteps: number, fraction = 0.5): Gain | null {
  return peakGain(c, fraction * totalSteps);
}

/** Peak gain over every step up to `untilStep` (default: all). */
export function peakGain(c: Curve, untilStep = Number.POSITIVE_INFINITY): Gain | null {
  const start = valueAt(c, 0);
  if (start === undefined) return null;
  let best: Point | null = null;
  for (const p of c)
    if (p.step > 0 && p.step <= untilStep && (best === null || p.value > best.value)) best = p;
  if (!best) return null;
  return { start, peak: best.value, peakStep: best.step, gain: best.value - start };
}

/** Final gain: the last point's value minus the step-0 value (null without both). */
export function finalGain(c: Curve): number | null {
  const start = valueAt(c, 0);
  const last = c.length ? c[c.length - 1] : undefined;
  if (start === undefined || !last || last.step === 0) return null;
  return last.value - start;
}

/** Mean of the first and of the last ⌈fraction·n⌉ points (at least one each): the trend of a noisy
 *  per-step metric without trusting single steps. */
export function endWindows(c: Curve, fraction = 0.2): { first: number; last: number } | null {
  if (!c.length) return null;
  const k = Math.max(1, Math.ceil(fraction * c.length));
  const m = (ps: Curve) => ps.reduce((a, p) => a + p.value, 0) / ps.length;
  return { first: m(c.slice(0, k)), last: m(c.slice(-k)) };
}

export interface Collapse {
  /** First step whose mean token entropy is below (1 − entropyDrop) × the first step's. */
  entropyStep: number | null;
  /** Same for the transitional-word rate (null also when it starts at 0: nothing to lose). */
  transitionalStep: number | null;
  /** First evaluation after the accuracy peak that falls below the starting accuracy by more
   *  than `margin`. */
  accuracyStep: number | null;
}

export function detectCollapse(
  run: RunMetrics,
  o: { entropyDrop?: number; transitionalDrop?: number; margin?: number; metric?: AccuracyMetric } = {},
): Collapse {
  const firstBelow = (c: Curve, drop: number) => {
    if (!c.length || !(c[0].value > 0)) return null;
    const lim = (1 - drop) * c[0].value;
    return c.find((p) => p.value < lim)?.step ?? null;
  };
  const acc = evalCurve(run, o.metric);
  const g = peakGain(acc);
  let accuracyStep: number | null = null;
  if (g)
    accuracyStep = acc.find((p) => p.step > g.peakStep && p.value < g.start - (o.margin ?? 0))?.step ?? null;
  return {
    entropyStep: firstBelow(stepCurve(run, "mean_token_entropy"), o.entropyDrop ?? 0.5),
    transitionalStep: firstBelow(stepCurve(run, "transitional_rate"), o.transitionalDrop ?? 0.8),
    accuracyStep,
  };
}

/** Spearman rank correlation (average ranks for ties); null when undefined (n < 2 or constant). */
export function spearman(x: readonly number[], y: readonly number[]): number | null {
  if (x.length !== y.length) throw new Error(`spearman: ${x.length} vs ${y.length} values`);
  const rank = (v: readonly number[]) => {
    const idx = v.map((_, i) => i).sort((a, b) => v[a] - v[b]);
    const r = new Array<number>(v.length);
    for (let i = 0; i < idx.length; ) {
      let j = i;
      while (j + 1 < idx.length && v[idx[j + 1]] === v[idx[i]]) j++;
      for (let k = i; k <= j; k++) r[idx[k]] = (i + j) / 2 + 1;
      i = j + 1;
    }
    return r;
  };
  if (x.length < 2) return null;
  const a = rank(x);
  const b = rank(y);
  const n = a.length;
  const ma = a.reduce((s, v) => s + v, 0) / n;
  const mb = b.reduce((s, v) => s + v, 0) / n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) ** 2;
    sbb += (b[i] - mb) ** 2;
  }
  return saa === 0 || sbb === 0 ? null : sab / Math.sqrt(saa * sbb);
}
