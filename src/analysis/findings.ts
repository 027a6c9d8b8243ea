// The findings table F1–F6 (rlif-spec.md): each verdict is computed from the condition summaries
// by the explicit rules below (also in docs/reproduce.md), never set by hand. One function per
// finding, listed in FINDINGS; a new finding is one more function there.

import { type ConditionSummary, isPaperCondition, type LoadedRun } from "./conditions.ts";
import { evalCurve, peakGain, type Spread, spearman } from "./curves.ts";

export type Verdict = "agrees" | "disagrees" | "inconclusive" | "not testable";

export interface Finding {
  id: string;
  claim: string;
  observed: string;
  verdict: Verdict;
  rule: string;
}

export const INTERNAL = ["self-certainty", "token-entropy", "trajectory-entropy"] as const;

/** Relative falls that count as "falls" for the per-step rollout statistics (F5). */
export const ENTROPY_FALL = 0.05;
export const TRANSITIONAL_FALL = 0.1;

export const fmtSpread = (s: Spread | null, d = 3, signed = true) => {
  if (!s) return "n/a";
  const m = `${signed && s.mean >= 0 ? "+" : ""}${s.mean.toFixed(d)}`;
  return s.n > 1 ? `${m} ± ${s.std.toFixed(d)} (n=${s.n})` : m;
};

type Sign = "up" | "down" | "flat";
export function signOf(s: Spread | null, margin: number): Sign | null {
  if (!s) return null;
  return s.mean > margin ? "up" : s.mean < -margin ? "down" : "flat";
}

const relFall = (w: { first: Spread | null; last: Spread | null }) =>
  w.first && w.last && w.first.mean > 0 ? (w.first.mean - w.last.mean) / w.first.mean : null;

/** The paper's condition of a group and reward (methods beyond the paper are not findings'). */
function pick(conds: ConditionSummary[], group: string, reward: string) {
  return conds.find((c) => c.group === group && isPaperCondition(c) && c.reward === reward);
}

/** "agrees" when a majority of the conditions meet the claim, "disagrees" when none does (and
 *  there is at least one), else inconclusive. */
function majority(k: number, n: number): Verdict {
  if (n === 0) return "inconclusive";
  if (2 * k > n) return "agrees";
  return k === 0 ? "disagrees" : "inconclusive";
}

/** What the findings' rules read. */
export interface FindingContext {
  conds: ConditionSummary[];
  /** The base model's internal-reward conditions, in INTERNAL order. */
  base: ConditionSummary[];
  /** RLVR (correctness) on the base model. */
  rlvr: ConditionSummary | undefined;
  /** Whether some run of the paper's conditions moved held-out accuracy beyond its margin (`gated`). */
  sensitive: boolean;
}

/** One finding of the table: its claim, what the organism shows and the verdict by its rule. */
export type FindingRule = (x: FindingContext) => Finding;

export function findingContext(conds: ConditionSummary[]): FindingContext {
  return {
    conds,
    base: INTERNAL.map((r) => pick(conds, "base", r)).filter((c): c is ConditionSummary => !!c),
    rlvr: pick(conds, "base", "correctness"),
    sensitive: conds.some(
      (c) =>
        isPaperCondition(c) && (signOf(c.peak, c.margin) === "up" || signOf(c.final, c.margin) === "down"),
    ),
  };
}

/** Sensitivity: when no run of the whole study moved held-out accuracy beyond its margin, the
 *  profile was too short or the model too weak to see any change, so the accuracy findings
 *  (F1, F2, F4) are inconclusive rather than disagreements. */
function gated(x: FindingContext, f: Finding): Finding {
  if (x.sensitive) return f;
  return {
    ...f,
    observed: `${f.observed} (no run of the study changed accuracy beyond its margin)`,
    verdict: "inconclusive",
  };
}

const gainLine = (c: ConditionSummary, key: "early" | "final" | "peak") =>
  `${c.reward}: ${fmtSpread(c[key])} (start ${fmtSpread(c.start, 3, false)}, margin ${c.margin.toFixed(3)})`;

/** The base model's internal rewards whose mean final gain is below −margin (F2, F3). */
const belowStart = (x: FindingContext) =>
  x.base.filter((c) => c.final && signOf(c.final, c.margin) === "down");

export const F1: FindingRule = (x) => {
  const withEarly = x.base.filter((c) => c.early);
  const up = withEarly.filter((c) => signOf(c.early, c.margin) === "up");
  return gated(x, {
    id: "F1",
    claim: "RLIF raises a base model's held-out accuracy early in training (sometimes matching RLVR).",
    observed:
      x.base.length === 0
        ? "no base-model RLIF runs"
        : `early gain (peak in the first half − start): ${x.base.map((c) => gainLine(c, "early")).join("; ")}` +
          (x.rlvr ? `; RLVR ${fmtSpread(x.rlvr.early)}` : ""),
    verdict: majority(up.length, withEarly.length),
    rule:
      "per internal reward: up if the mean early gain > margin. Agrees if most rewards are up, disagrees if none is. " +
      "F1, F2, F4: inconclusive when no run of the study changed accuracy beyond its margin.",
  });
};

export const F2: FindingRule = (x) => {
  const withFinal = x.base.filter((c) => c.final);
  const below = belowStart(x);
  const declined = withFinal.filter((c) => (c.drop?.mean ?? 0) > c.margin);
  return gated(x, {
    id: "F2",
    claim: "Continued RLIF training degrades accuracy, eventually below the starting model.",
    observed:
      x.base.length === 0
        ? "no base-model RLIF runs"
        : `final gain: ${x.base.map((c) => gainLine(c, "final")).join("; ")}; early peak − final: ${x.base
            .map((c) => `${c.reward} ${fmtSpread(c.drop)}`)
            .join(", ")}; held-out responses cut at the length limit, start → end: ${x.base
            .map(
              (c) =>
                `${c.reward} ${fmtSpread(c.truncated.first, 2, false)} → ${fmtSpread(c.truncated.last, 2, false)}`,
            )
            .join(", ")}`,
    verdict:
      withFinal.length === 0
        ? "inconclusive"
        : 2 * below.length > withFinal.length
          ? "agrees"
          : declined.length === 0 && below.length === 0
            ? "disagrees"
            : "inconclusive",
    rule:
      "per internal reward: below start if the mean final gain < −margin; declined if early peak − final > margin. " +
      "Agrees if most are below start; disagrees if none declined; else inconclusive.",
  });
};

export const F3: FindingRule = (x) => {
  const { rlvr } = x;
  const below = belowStart(x);
  const rlvrDown = rlvr ? signOf(rlvr.final, rlvr.margin) === "down" : null;
  return {
    id: "F3",
    claim: "RLVR does not show that collapse over the same steps.",
    observed: rlvr
      ? `RLVR final gain ${fmtSpread(rlvr.final)} (margin ${rlvr.margin.toFixed(3)}), peak ${fmtSpread(rlvr.peak)}; RLIF runs below start: ${below.length}/${x.base.length}`
      : "no RLVR run on the base model",
    verdict: !rlvr?.final || below.length === 0 ? "inconclusive" : rlvrDown ? "disagrees" : "agrees",
    rule:
      "needs an RLIF collapse to contrast with (F2: some internal reward below start), else inconclusive. " +
      "Agrees if RLVR's mean final gain ≥ −margin, disagrees otherwise.",
  };
};

export const F4: FindingRule = (x) => {
  const inst = INTERNAL.map((r) => pick(x.conds, "instruct", r)).filter(
    (c): c is ConditionSummary => !!c?.early,
  );
  const per = inst.map((c) => {
    const b = pick(x.conds, "base", c.reward);
    const up = signOf(c.early, c.margin) === "up";
    const bg = b?.early?.mean ?? null;
    const small = !up || (bg !== null && (c.early?.mean ?? 0) < 0.5 * bg);
    const big = up && bg !== null && (c.early?.mean ?? 0) >= bg;
    return { c, small, big, bg };
  });
  return gated(x, {
    id: "F4",
    claim: "RLIF gives little or no gain on the instruction-tuned model.",
    observed: inst.length
      ? per
          .map(
            (p) =>
              `instruct ${p.c.reward} early gain ${fmtSpread(p.c.early)} (margin ${p.c.margin.toFixed(3)}) vs base ${p.bg === null ? "n/a" : p.bg.toFixed(3)}`,
          )
          .join("; ")
      : "no RLIF run with evaluations on the instruct model",
    verdict: !inst.length
      ? "inconclusive"
      : per.every((p) => p.small)
        ? "agrees"
        : per.some((p) => p.big)
          ? "disagrees"
          : "inconclusive",
    rule:
      "per internal reward on the instruct model: little gain if the early gain is not above margin or is below half the base " +
      "model's; agrees if all are little; disagrees if one is above margin and at least the base model's.",
  });
};

export const F5: FindingRule = ({ base }) => {
  const per = base.map((c) => ({ c, h: relFall(c.entropy), t: relFall(c.transitional) }));
  const hFalls = per.filter((p) => p.h !== null && p.h >= ENTROPY_FALL).length;
  const tMeasurable = per.filter((p) => p.t !== null);
  const tFalls = tMeasurable.filter((p) => (p.t as number) >= TRANSITIONAL_FALL).length;
  const pct = (v: number | null) => (v === null ? "n/a" : `${(-100 * v).toFixed(1)}%`);
  return {
    id: "F5",
    claim: "Under RLIF, mean token entropy and the transitional-word rate fall.",
    observed: base.length
      ? per
          .map(
            (p) =>
              `${p.c.reward}: entropy ${fmtSpread(p.c.entropy.first, 3, false)} → ${fmtSpread(p.c.entropy.last, 3, false)} (${pct(p.h)}), ` +
              `transitional ${fmtSpread(p.c.transitional.first, 2, false)} → ${fmtSpread(p.c.transitional.last, 2, false)} (${pct(p.t)})`,
          )
          .join("; ")
      : "no base-model RLIF runs",
    verdict:
      base.length === 0 || hFalls === 0
        ? majority(0, base.length)
        : 2 * hFalls > base.length && tMeasurable.length > 0 && 2 * tFalls > tMeasurable.length
          ? "agrees"
          : "inconclusive",
    rule:
      `first vs last 20% of steps. Entropy falls if it drops ≥ ${100 * ENTROPY_FALL}%, the transitional rate if it drops ≥ ` +
      `${100 * TRANSITIONAL_FALL}% (not measurable when it starts at 0). Agrees if both fall for most rewards; disagrees if ` +
      "entropy falls for none; else inconclusive.",
  };
};

export const F6: FindingRule = ({ conds }) => {
  const ok = conds
    .filter((c) => c.group === "mix" && c.alpha !== undefined)
    .sort((a, b) => a.alpha! - b.alpha!)
    .filter((c) => c.initialEntropy && c.early);
  const alphas = ok.map((c) => c.alpha as number);
  const rH =
    ok.length >= 3
      ? spearman(
          alphas,
          ok.map((c) => c.initialEntropy!.mean),
        )
      : null;
  const rG =
    ok.length >= 3
      ? spearman(
          alphas,
          ok.map((c) => c.early!.mean),
        )
      : null;
  const f = (v: number | null) => (v === null ? "undefined" : v.toFixed(2));
  return {
    id: "F6",
    claim: "Along the mixing path, initial entropy falls as α grows and the RLIF gain shrinks with it.",
    observed: ok.length
      ? `${ok
          .map(
            (c) => `α=${c.alpha}: H0 ${c.initialEntropy!.mean.toFixed(3)}, early gain ${fmtSpread(c.early)}`,
          )
          .join("; ")}; Spearman(α, H0) = ${f(rH)}, Spearman(α, gain) = ${f(rG)}`
      : "no weight-mixing runs",
    verdict:
      rH === null
        ? "inconclusive"
        : rH >= 0.5 || (rG !== null && rG >= 0.5)
          ? "disagrees"
          : rH <= -0.7 && rG !== null && rG <= -0.5
            ? "agrees"
            : "inconclusive",
    rule:
      "Spearman rank correlations over the α grid (≥ 3 points). Agrees if ρ(α, H0) ≤ −0.7 and ρ(α, early gain) ≤ −0.5; " +
      "disagrees if either is ≥ +0.5; else (including all-equal gains) inconclusive.",
  };
};

/** The findings table, in order: one rule each. */
export const FINDINGS: FindingRule[] = [F1, F2, F3, F4, F5, F6];

export function computeFindings(conds: ConditionSummary[]): Finding[] {
  const x = findingContext(conds);
  return FINDINGS.map((f) => f(x));
}

export interface GuardSummary {
  reward: string;
  fired: boolean;
  firedAt: number | null;
  rolledBackTo: number | null;
  start: number | null;
  /** Accuracy gain of the model the guard run ends with (the best checkpoint after a rollback). */
  keptGain: number | null;
  /** The same run's early gain, and the unguarded run's final gain. */
  earlyGain: number | null;
  unguardedFinal: number | null;
  keepsEarlyGain: boolean | null;
  margin: number;
}

/** Whether the guard keeps the early gain: the kept gain is at least the run's early gain minus
 *  the margin (it rolls back to the best evaluated checkpoint, so this fails only if the guard
 *  fires before the peak or does not fire while accuracy falls). */
export function guardSummary(
  run: LoadedRun | undefined,
  unguardedFinal: number | null,
  margin: number,
): GuardSummary | null {
  if (!run) return null;
  const acc = evalCurve(run.metrics);
  const start = acc.find((p) => p.step === 0)?.value ?? null;
  const rb = run.metrics.events.find((e) => e.event === "guard-rollback");
  const firedLine = run.metrics.steps.find((s) => typeof s.guard === "string");
  const endStep = rb?.to_step ?? (acc.length ? acc[acc.length - 1].step : null);
  const endAcc = endStep === null ? undefined : acc.find((p) => p.step === endStep)?.value;
  const kept = start !== null && endAcc !== undefined ? endAcc - start : null;
  const early =
    peakGain(acc, Math.max(0.5 * run.steps, acc.find((p) => p.step > 0)?.step ?? 0))?.gain ?? null;
  return {
    reward: run.reward,
    fired: !!firedLine,
    firedAt: firedLine?.step ?? null,
    rolledBackTo: rb?.to_step ?? null,
    start,
    keptGain: kept,
    earlyGain: early,
    unguardedFinal,
    keepsEarlyGain: kept === null || early === null ? null : kept >= early - margin,
    margin,
  };
}
