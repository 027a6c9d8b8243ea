// The study's verdicts F1–F6 as paired tests on per-problem test records (rlif-spec.md, findings;
// the rules are also written in docs/reproduce.md). Each effect is a mean of paired per-problem
// differences over seeds × problems with a bootstrap interval; families of rewards get Holm's
// correction; "no effect" claims are equivalence tests with a stated bound; and a finding whose
// premise the data do not show is "not testable", never "agrees".

import type { RunGroup } from "./conditions.ts";
import { spearman } from "./curves.ts";
import {
  type ProblemLine,
  type ProblemMetric,
  pairedGrid,
  type TestRecords,
  type ValRecords,
} from "./records.ts";
import { peakStep } from "./selection.ts";
import {
  type EquivalenceResult,
  equivalenceTest,
  holm,
  type Interval,
  nonInferiorityTest,
  pairedBootstrap,
  subtractGrids,
} from "./statistics.ts";

export type Verdict = "agrees" | "disagrees" | "inconclusive" | "not testable";

export interface RunRecords {
  seed: number;
  /** The run's last evaluated training step. */
  final: number;
  val: ValRecords;
  test: TestRecords;
}

export interface ConditionRecords {
  group: RunGroup;
  reward: string;
  alpha?: number;
  /** A condition beyond the paper's (RunInfo.method, .candidate). */
  method?: string;
  candidate?: string;
  runs: RunRecords[];
}

/** Fixed before the study runs (docs/reproduce.md): what is compared, at which steps, how strictly. */
export interface Design {
  /** The pre-registered early step (an evaluation step; not chosen from results). */
  earlyStep: number;
  /** Smallest effect of interest: the bound of equivalence and non-inferiority tests. */
  delta: number;
  /** Family-wise significance level. */
  alpha: number;
  metric: ProblemMetric;
  resamples: number;
  /** The candidate settings of each method that validation chooses among (method name → labels),
   *  so a choice waits for all of them; absent: the candidates that have runs. */
  candidates?: Record<string, string[]>;
}

export const DEFAULT_DESIGN: Design = {
  earlyStep: 0,
  delta: 0.05,
  alpha: 0.05,
  metric: "sampled",
  resamples: 2000,
};

/** Where an effect is measured: a fixed step, the run's last step, or its validation-chosen peak. */
export type At = number | "final" | "peak";

export interface Effect {
  label: string;
  interval: Interval;
  /** Holm-adjusted p within its family (absent when it is not part of one). */
  pAdj?: number;
}

function stepOf(r: RunRecords, at: At): number | null {
  if (at === "final") return r.final;
  if (at === "peak") return peakStep(r.val, "sampled", (s) => r.test.has(s));
  return at;
}

const cell = (r: RunRecords | undefined, at: At): Map<string, ProblemLine> | undefined => {
  if (!r) return undefined;
  const s = stepOf(r, at);
  return s === null ? undefined : r.test.at(s);
};

/** Gain of a condition between two points of each run (default: against step 0), seeds × problems. */
export function gainGrid(
  c: ConditionRecords,
  at: At,
  from: At = 0,
  metric: ProblemMetric = "sampled",
): number[][] | null {
  return pairedGrid(
    c.runs.map((r) => ({ a: cell(r, at), b: cell(r, from) })),
    metric,
  );
}

/** Two conditions at the same point, paired by seed (same seed: same prompts, same problems). */
export function contrastGrid(
  a: ConditionRecords,
  b: ConditionRecords,
  at: At,
  metric: ProblemMetric = "sampled",
): number[][] | null {
  const pairs = a.runs.map((r) => ({
    a: cell(r, at),
    b: cell(
      b.runs.find((x) => x.seed === r.seed),
      at,
    ),
  }));
  return pairedGrid(pairs, metric);
}

/** Both conditions restricted to the seeds they share, in the same order (for seed pairing). */
export function onCommonSeeds(
  a: ConditionRecords,
  b: ConditionRecords,
): [ConditionRecords, ConditionRecords] {
  const seeds = a.runs.map((r) => r.seed).filter((s) => b.runs.some((x) => x.seed === s));
  const pick = (c: ConditionRecords) => ({ ...c, runs: seeds.map((s) => c.runs.find((r) => r.seed === s)!) });
  return [pick(a), pick(b)];
}

/** Difference of two conditions' gains (e.g. instruct − base), paired by seed and problem. */
export function gainContrastGrid(
  a: ConditionRecords,
  b: ConditionRecords,
  at: At,
  metric: ProblemMetric = "sampled",
): number[][] | null {
  const [pa, pb] = onCommonSeeds(a, b);
  const ga = gainGrid(pa, at, 0, metric);
  const gb = gainGrid(pb, at, 0, metric);
  if (!ga || !gb || ga[0].length !== gb[0].length) return null;
  return subtractGrids(ga, gb);
}

function boot(d: number[][] | null, design: Design, salt: number): Interval | null {
  return d ? pairedBootstrap(d, { resamples: design.resamples, seed: 1000 + salt }) : null;
}

/** Holm over a family of effects (nulls skipped); returns the effects with pAdj set. */
export function family(effects: (Effect | null)[]): (Effect | null)[] {
  const present = effects.filter((e): e is Effect => !!e);
  const adj = holm(present.map((e) => e.interval.p));
  present.forEach((e, i) => {
    e.pAdj = adj[i];
  });
  return effects;
}

export const pts = (x: number) => `${x >= 0 ? "+" : ""}${(100 * x).toFixed(1)}`;

/** "+4.2 pts [+1.0, +7.5], p_Holm 0.01, n = 3 seeds × 512 problems" */
export function fmtEffect(e: Effect | null | undefined): string {
  if (!e) return "n/a";
  const iv = e.interval;
  const p = e.pAdj !== undefined ? `p_Holm ${fmtP(e.pAdj)}` : `p ${fmtP(iv.p)}`;
  return `${pts(iv.estimate)} pts [${pts(iv.lo)}, ${pts(iv.hi)}], ${p}, n = ${iv.seeds} seed${iv.seeds > 1 ? "s" : ""} × ${iv.problems} problems`;
}

function fmtEquiv(r: EquivalenceResult | null): string {
  if (!r) return "n/a";
  return `90% interval [${pts(r.interval.lo)}, ${pts(r.interval.hi)}] pts vs bound ±${(100 * r.bound).toFixed(1)}: ${r.verdict}`;
}

const fmtP = (p: number) => (p < 0.001 ? "< 0.001" : p.toFixed(3));

export interface StudyVerdict {
  id: string;
  claim: string;
  verdict: Verdict;
  /** What was measured: effects with intervals, p-values and n. */
  observed: string;
  /** The test and the decision rule. */
  rule: string;
}

export interface VerdictInputs {
  base: ConditionRecords[];
  rlvr?: ConditionRecords;
  instruct: ConditionRecords[];
  mix: ConditionRecords[];
  design: Design;
}

const INTERNAL = ["self-certainty", "token-entropy", "trajectory-entropy"];

export const significantUp = (e: Effect | null, alpha: number) =>
  !!e && e.interval.estimate > 0 && (e.pAdj ?? e.interval.p) < alpha;
export const significantDown = (e: Effect | null, alpha: number) =>
  !!e && e.interval.estimate < 0 && (e.pAdj ?? e.interval.p) < alpha;

/** A paired effect with its bootstrap interval (seeded by `salt`), or null without data. */
export function effect(label: string, d: number[][] | null, design: Design, salt: number): Effect | null {
  const iv = boot(d, design, salt);
  return iv ? { label, interval: iv } : null;
}

export interface StudyEffects {
  control: { early: Effect | null; final: Effect | null; significant: boolean };
  early: (Effect | null)[];
  final: (Effect | null)[];
  drop: (Effect | null)[];
  vsRlvrEarly: (Effect | null)[];
}

/** The effects every verdict draws on, computed once (internal rewards in INTERNAL order). */
export function studyEffects(x: VerdictInputs): StudyEffects {
  const d = x.design;
  const base = INTERNAL.map((r) => x.base.find((c) => c.reward === r));
  const ctl = family([
    x.rlvr ? effect("RLVR early gain", gainGrid(x.rlvr, d.earlyStep, 0, d.metric), d, 1) : null,
    x.rlvr ? effect("RLVR final gain", gainGrid(x.rlvr, "final", 0, d.metric), d, 2) : null,
  ]);
  return {
    control: { early: ctl[0], final: ctl[1], significant: ctl.some((e) => significantUp(e, d.alpha)) },
    early: family(
      base.map((c, i) =>
        c ? effect(`${c.reward} early gain`, gainGrid(c, d.earlyStep, 0, d.metric), d, 10 + i) : null,
      ),
    ),
    final: family(
      base.map((c, i) =>
        c ? effect(`${c.reward} final gain`, gainGrid(c, "final", 0, d.metric), d, 20 + i) : null,
      ),
    ),
    drop: family(
      base.map((c, i) =>
        c ? effect(`${c.reward} peak − final`, gainGrid(c, "peak", "final", d.metric), d, 30 + i) : null,
      ),
    ),
    vsRlvrEarly: family(
      base.map((c, i) =>
        c && x.rlvr
          ? effect(
              `${c.reward} − RLVR at step ${d.earlyStep}`,
              contrastGrid(c, x.rlvr, d.earlyStep, d.metric),
              d,
              40 + i,
            )
          : null,
      ),
    ),
  };
}

function majorityOf(k: number, n: number): boolean {
  return n > 0 && 2 * k > n;
}

export function decideF1(x: VerdictInputs, e: StudyEffects): StudyVerdict {
  const d = x.design;
  const up = e.early.filter((v) => significantUp(v, d.alpha));
  const present = e.early.filter((v): v is Effect => !!v);
  // "No early gain" needs each reward's gain to be bounded below δ, not merely non-significant.
  const allBelowDelta = present.length > 0 && present.every((v) => v.interval.hi < d.delta);
  const verdict: Verdict =
    !e.control.significant || present.length === 0
      ? "not testable"
      : majorityOf(up.length, present.length)
        ? "agrees"
        : up.length === 0 && allBelowDelta
          ? "disagrees"
          : "inconclusive";
  return {
    id: "F1",
    claim: "RLIF raises a base model's held-out accuracy early in training (sometimes matching RLVR).",
    verdict,
    observed:
      `positive control: RLVR early gain ${fmtEffect(e.control.early)}, final gain ${fmtEffect(e.control.final)}` +
      (e.control.significant
        ? ""
        : " — no significant gain, so the organism cannot show what internal feedback adds") +
      (present.length === 0
        ? "; no internal-reward runs (e.g. a study run with --rewards correctness)"
        : `; early gain at step ${d.earlyStep}: ${present.map((v) => `${v.label.replace(" early gain", "")} ${fmtEffect(v)}`).join("; ")}` +
          `; vs RLVR at the same step: ${e.vsRlvrEarly
            .filter((v): v is Effect => !!v)
            .map((v) => `${v.label.split(" − ")[0]} ${fmtEffect(v)}`)
            .join("; ")}`),
    rule:
      `Test-split ${d.metric} accuracy, gain at the pre-registered step ${d.earlyStep} vs step 0, paired over seeds × problems ` +
      `(bootstrap), Holm over the internal rewards at α = ${d.alpha}. Testable only if the positive control (RLVR) gains ` +
      `significantly at step ${d.earlyStep} or at the end (Holm over the two). Agrees if most rewards gain significantly; ` +
      `disagrees if none does and every upper 95% bound is below δ = ${pts(d.delta)} pts; else inconclusive.`,
  };
}

export function decideF2(x: VerdictInputs, e: StudyEffects): StudyVerdict {
  const d = x.design;
  const present = e.final.filter((v): v is Effect => !!v);
  const below = e.final.filter((v) => significantDown(v, d.alpha));
  const noneDeclined = present.length > 0 && present.every((v) => v.interval.lo > -d.delta);
  return {
    id: "F2",
    claim: "Continued RLIF training degrades accuracy, eventually below the starting model.",
    verdict:
      present.length === 0
        ? "not testable"
        : majorityOf(below.length, present.length)
          ? "agrees"
          : below.length === 0 && noneDeclined
            ? "disagrees"
            : "inconclusive",
    observed:
      present.length === 0
        ? "no internal-reward runs"
        : `final gain: ${present.map((v) => `${v.label.replace(" final gain", "")} ${fmtEffect(v)}`).join("; ")}` +
          `; validation-chosen peak − final: ${e.drop
            .filter((v): v is Effect => !!v)
            .map((v) => `${v.label.replace(" peak − final", "")} ${fmtEffect(v)}`)
            .join("; ")}`,
    rule:
      `Final vs step 0 on the test split, paired, Holm over rewards. Agrees if most rewards end significantly below the start; ` +
      `disagrees if none does and every lower 95% bound is above −δ (${pts(-d.delta)} pts); else inconclusive. The peak is each ` +
      "run's best step on the validation split, never the test split.",
  };
}

export function decideF3(x: VerdictInputs, e: StudyEffects): StudyVerdict {
  const d = x.design;
  const collapse = e.final.some((v) => significantDown(v, d.alpha));
  const ni = x.rlvr ? nonInferiorityGrid(gainGrid(x.rlvr, "final", 0, d.metric), d) : null;
  const verdict: Verdict = !collapse
    ? "not testable"
    : !ni
      ? "inconclusive"
      : ni.verdict === "equivalent"
        ? "agrees"
        : ni.verdict === "not equivalent"
          ? "disagrees"
          : "inconclusive";
  return {
    id: "F3",
    claim: "RLVR does not show that collapse over the same steps.",
    verdict,
    observed: `RLVR final gain ${fmtEffect(e.control.final)}; non-inferiority: ${fmtEquiv(ni)}; RLIF rewards significantly below start: ${
      e.final.filter((v) => significantDown(v, d.alpha)).length
    }/${e.final.filter(Boolean).length}`,
    rule:
      `Testable only if some internal reward ends significantly below its start (F2), else there is no collapse to contrast. ` +
      `Non-inferiority of RLVR's final gain at bound δ = ${pts(d.delta)} pts (one-sided 5%, a 90% bootstrap interval): ` +
      "agrees if the lower bound is above −δ, disagrees if the upper bound is below −δ, else inconclusive.",
  };
}

function nonInferiorityGrid(g: number[][] | null, d: Design): EquivalenceResult | null {
  return g ? nonInferiorityTest(g, d.delta, { resamples: d.resamples, seed: 77 }) : null;
}

export function decideF4(x: VerdictInputs, e: StudyEffects): StudyVerdict {
  const d = x.design;
  const rows = x.instruct
    .filter((c) => INTERNAL.includes(c.reward))
    .map((c, i) => {
      const b = x.base.find((bc) => bc.reward === c.reward);
      const baseEarly = e.early[INTERNAL.indexOf(c.reward)];
      const g = gainGrid(c, d.earlyStep, 0, d.metric);
      const eq = g ? equivalenceTest(g, d.delta, { resamples: d.resamples, seed: 90 + i }) : null;
      const vsBase = b
        ? effect(`instruct − base gain`, gainContrastGrid(c, b, d.earlyStep, d.metric), d, 95 + i)
        : null;
      return {
        c,
        baseGains: significantUp(baseEarly, d.alpha),
        eq,
        vsBase,
        gain: g ? effect("instruct gain", g, d, 99 + i) : null,
      };
    });
  const testable = rows.filter((r) => r.baseGains);
  const little = testable.filter((r) => r.eq?.verdict === "equivalent" || significantDown(r.vsBase, d.alpha));
  const big = testable.filter(
    (r) => significantUp(r.gain, d.alpha) && !!r.vsBase && r.vsBase.interval.lo > -d.delta,
  );
  const verdict: Verdict = !testable.length
    ? "not testable"
    : little.length === testable.length
      ? "agrees"
      : big.length
        ? "disagrees"
        : "inconclusive";
  return {
    id: "F4",
    claim: "RLIF gives little or no gain on the instruction-tuned model.",
    verdict,
    observed: rows.length
      ? rows
          .map(
            (r) =>
              `${r.c.reward}: instruct gain ${fmtEffect(r.gain)}; equivalence to 0: ${fmtEquiv(r.eq)}; instruct − base gain ${fmtEffect(r.vsBase)}` +
              (r.baseGains ? "" : " (the base model shows no significant gain with this reward)"),
          )
          .join("; ")
      : "no RLIF run on the instruct model",
    rule:
      `Per internal reward, testable only if the base model gains significantly with it at step ${d.earlyStep} (otherwise "no ` +
      `gain" on the instruct model is no contrast). Little gain: the instruct gain is equivalent to 0 within ±δ = ${pts(d.delta)} ` +
      "pts (TOST, 90% interval) or significantly smaller than the base model's gain (seed- and problem-paired). Agrees if every " +
      "testable reward shows little gain; disagrees if one gains significantly and not less than the base (lower bound > −δ).",
  };
}

export function decideF5(x: VerdictInputs): StudyVerdict {
  const d = x.design;
  const base = INTERNAL.map((r) => x.base.find((c) => c.reward === r)).filter(
    (c): c is ConditionRecords => !!c,
  );
  const fam = (m: ProblemMetric, salt: number) =>
    family(base.map((c, i) => effect(`${c.reward} ${m}`, gainGrid(c, "final", 0, m), d, salt + i)));
  const h = fam("entropy", 200);
  const t = fam("transitional", 210);
  const bothFall = base.filter(
    (_, i) => significantDown(h[i], d.alpha) && significantDown(t[i], d.alpha),
  ).length;
  const anyFall = base.filter(
    (_, i) => significantDown(h[i], d.alpha) || significantDown(t[i], d.alpha),
  ).length;
  // "No fall" needs the data to exclude one: each interval's lower end above −10% of the start.
  const bounded = (e: Effect | null, c: ConditionRecords, m: ProblemMetric) => {
    const start = meanAtStep0(c, m);
    return !!e && start !== null && e.interval.lo > -0.1 * Math.abs(start);
  };
  const noFall = base.every((c, i) => bounded(h[i], c, "entropy") && bounded(t[i], c, "transitional"));
  const fmtRaw = (e: Effect | null) =>
    e
      ? `${e.interval.estimate.toFixed(3)} [${e.interval.lo.toFixed(3)}, ${e.interval.hi.toFixed(3)}], p_Holm ${fmtP(e.pAdj ?? e.interval.p)}`
      : "n/a";
  return {
    id: "F5",
    claim: "Under RLIF, mean token entropy and the transitional-word rate fall.",
    verdict: !base.length
      ? "not testable"
      : majorityOf(bothFall, base.length)
        ? "agrees"
        : anyFall === 0 && noFall
          ? "disagrees"
          : "inconclusive",
    observed: base
      .map((c, i) => `${c.reward}: Δ entropy ${fmtRaw(h[i])}; Δ transitional rate ${fmtRaw(t[i])}`)
      .join("; "),
    rule:
      "Mean token entropy and transitional words per 100 words of the test-split samples, final vs step 0, paired over seeds × " +
      "problems, Holm over rewards per signal. Agrees if both fall significantly for most rewards; disagrees if neither falls " +
      "significantly for any and every interval excludes a fall of 10% of the start; else inconclusive.",
  };
}

export function decideF6(x: VerdictInputs, e: StudyEffects): StudyVerdict {
  const d = x.design;
  const mix = [...x.mix].sort((a, b) => (a.alpha ?? 0) - (b.alpha ?? 0));
  const a0 = mix.find((c) => c.alpha === 0);
  const a1 = mix[mix.length - 1];
  const sc = e.early[INTERNAL.indexOf("self-certainty")];
  const f1AtZero = significantUp(sc, d.alpha);
  const h0 = mix.map((c) => meanAtStep0(c, "entropy"));
  const gains = mix.map((c, i) => effect(`α=${c.alpha}`, gainGrid(c, d.earlyStep, 0, d.metric), d, 300 + i));
  const ok = h0.every((v) => v !== null) && mix.length >= 3;
  const rH = ok
    ? spearman(
        mix.map((c) => c.alpha ?? 0),
        h0 as number[],
      )
    : null;
  const shrink =
    a0 && a1 && a1 !== a0
      ? effect("gain(α=0) − gain(α=1)", gainContrastGrid(a0, a1, d.earlyStep, d.metric), d, 320)
      : null;
  const verdict: Verdict = !f1AtZero
    ? "not testable"
    : rH === null || !shrink
      ? "inconclusive"
      : rH < 0 && significantUp(shrink, d.alpha)
        ? "agrees"
        : rH >= 0 || (shrink.interval.hi < d.delta && shrink.interval.estimate <= 0)
          ? "disagrees"
          : "inconclusive";
  return {
    id: "F6",
    claim: "Along the mixing path, initial entropy falls as α grows and the RLIF gain shrinks with it.",
    verdict,
    observed: mix.length
      ? `${mix.map((c, i) => `α=${c.alpha}: H0 ${h0[i]?.toFixed(3) ?? "n/a"}, early gain ${fmtEffect(gains[i])}`).join("; ")}; ` +
        `Spearman(α, H0) = ${rH === null ? "undefined" : rH.toFixed(2)}; gain(α=0) − gain(α=1): ${fmtEffect(shrink)}` +
        (f1AtZero
          ? ""
          : "; F1 does not hold at α = 0 (self-certainty on the base model), so there is no gain to shrink")
      : "no weight-mixing runs",
    rule:
      "Testable only if self-certainty's early gain on the base model (α = 0) is significant. Agrees if the initial sampled " +
      "entropy falls with α (Spearman < 0) and the early gain at α = 0 exceeds the one at the largest α (paired by seed and " +
      `problem, p < ${d.alpha}); disagrees if entropy does not fall with α, or the gain difference is bounded below δ; else inconclusive.`,
  };
}

function meanAtStep0(c: ConditionRecords, m: ProblemMetric): number | null {
  const vs = c.runs.map((r) => r.test.mean(0, m)).filter((v): v is number => v !== null);
  return vs.length ? vs.reduce((a, b) => a + b, 0) / vs.length : null;
}

/** Every verdict, each with its test, interval and n. */
export function decideAll(x: VerdictInputs): StudyVerdict[] {
  const e = studyEffects(x);
  return [decideF1(x, e), decideF2(x, e), decideF3(x, e), decideF4(x, e), decideF5(x), decideF6(x, e)];
}
