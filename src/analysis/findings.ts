// The findings table F1–F6 (rlif-spec.md): each verdict is computed from the condition summaries
// by the explicit rules below (also in docs/reproduce.md), never set by hand.

import type { ConditionSummary, LoadedRun } from "./conditions.ts";
import { evalCurve, peakGain, type Spread, spearman } from "./curves.ts";

export type Verdict = "agrees" | "disagrees" | "inconclusive";

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

function pick(conds: ConditionSummary[], group: string, reward: string) {
  return conds.find((c) => c.group === group && c.reward === reward);
}

/** "agrees" when a majority of the conditions meet the claim, "disagrees" when none does (and
 *  there is at least one), else inconclusive. */
function majority(k: number, n: number): Verdict {
  if (n === 0) return "inconclusive";
  if (2 * k > n) return "agrees";
  return k === 0 ? "disagrees" : "inconclusive";
}

export function computeFindings(conds: ConditionSummary[]): Finding[] {
  const base = INTERNAL.map((r) => pick(conds, "base", r)).filter((c): c is ConditionSummary => !!c);
  const rlvr = pick(conds, "base", "correctness");
  const out: Finding[] = [];
  const gainLine = (c: ConditionSummary, key: "early" | "final" | "peak") =>
    `${c.reward}: ${fmtSpread(c[key])} (start ${fmtSpread(c.start, 3, false)}, margin ${c.margin.toFixed(3)})`;

  // Sensitivity: when no run of the whole study moved held-out accuracy beyond its margin, the
  // profile was too short or the model too weak to see any change, so the accuracy findings
  // (F1, F2, F4) are inconclusive rather than disagreements.
  const sensitive = conds.some(
    (c) => signOf(c.peak, c.margin) === "up" || signOf(c.final, c.margin) === "down",
  );
  const gate = (v: Verdict): Verdict => (sensitive ? v : "inconclusive");
  const insensitiveNote = sensitive ? "" : " (no run of the study changed accuracy beyond its margin)";

  // F1
  const withEarly = base.filter((c) => c.early);
  const up1 = withEarly.filter((c) => signOf(c.early, c.margin) === "up");
  out.push({
    id: "F1",
    claim: "RLIF raises a base model's held-out accuracy early in training (sometimes matching RLVR).",
    observed:
      base.length === 0
        ? "no base-model RLIF runs"
        : `early gain (peak in the first half − start): ${base.map((c) => gainLine(c, "early")).join("; ")}` +
          (rlvr ? `; RLVR ${fmtSpread(rlvr.early)}` : ""),
    verdict: gate(majority(up1.length, withEarly.length)),
    rule:
      "per internal reward: up if the mean early gain > margin. Agrees if most rewards are up, disagrees if none is. " +
      "F1, F2, F4: inconclusive when no run of the study changed accuracy beyond its margin.",
  });

  // F2
  const withFinal = base.filter((c) => c.final);
  const below = withFinal.filter((c) => signOf(c.final, c.margin) === "down");
  const declined = withFinal.filter((c) => (c.drop?.mean ?? 0) > c.margin);
  out.push({
    id: "F2",
    claim: "Continued RLIF training degrades accuracy, eventually below the starting model.",
    observed:
      base.length === 0
        ? "no base-model RLIF runs"
        : `final gain: ${base.map((c) => gainLine(c, "final")).join("; ")}; early peak − final: ${base
            .map((c) => `${c.reward} ${fmtSpread(c.drop)}`)
            .join(", ")}; held-out responses cut at the length limit, start → end: ${base
            .map(
              (c) =>
                `${c.reward} ${fmtSpread(c.truncated.first, 2, false)} → ${fmtSpread(c.truncated.last, 2, false)}`,
            )
            .join(", ")}`,
    verdict: gate(
      withFinal.length === 0
        ? "inconclusive"
        : 2 * below.length > withFinal.length
          ? "agrees"
          : declined.length === 0 && below.length === 0
            ? "disagrees"
            : "inconclusive",
    ),
    rule:
      "per internal reward: below start if the mean final gain < −margin; declined if early peak − final > margin. " +
      "Agrees if most are below start; disagrees if none declined; else inconclusive.",
  });

  // F3
  const rlvrDown = rlvr ? signOf(rlvr.final, rlvr.margin) === "down" : null;
  out.push({
    id: "F3",
    claim: "RLVR does not show that collapse over the same steps.",
    observed: rlvr
      ? `RLVR final gain ${fmtSpread(rlvr.final)} (margin ${rlvr.margin.toFixed(3)}), peak ${fmtSpread(rlvr.peak)}; RLIF runs below start: ${below.length}/${base.length}`
      : "no RLVR run on the base model",
    verdict: !rlvr?.final || below.length === 0 ? "inconclusive" : rlvrDown ? "disagrees" : "agrees",
    rule:
      "needs an RLIF collapse to contrast with (F2: some internal reward below start), else inconclusive. " +
      "Agrees if RLVR's mean final gain ≥ −margin, disagrees otherwise.",
  });

  // F4
  const inst = INTERNAL.map((r) => pick(conds, "instruct", r)).filter(
    (c): c is ConditionSummary => !!c?.early,
  );
  const f4 = inst.map((c) => {
    const b = pick(conds, "base", c.reward);
    const up = signOf(c.early, c.margin) === "up";
    const bg = b?.early?.mean ?? null;
    const small = !up || (bg !== null && (c.early?.mean ?? 0) < 0.5 * bg);
    const big = up && bg !== null && (c.early?.mean ?? 0) >= bg;
    return { c, small, big, bg };
  });
  out.push({
    id: "F4",
    claim: "RLIF gives little or no gain on the instruction-tuned model.",
    observed: inst.length
      ? f4
          .map(
            (x) =>
              `instruct ${x.c.reward} early gain ${fmtSpread(x.c.early)} (margin ${x.c.margin.toFixed(3)}) vs base ${x.bg === null ? "n/a" : x.bg.toFixed(3)}`,
          )
          .join("; ")
      : "no RLIF run with evaluations on the instruct model",
    verdict: gate(
      !inst.length
        ? "inconclusive"
        : f4.every((x) => x.small)
          ? "agrees"
          : f4.some((x) => x.big)
            ? "disagrees"
            : "inconclusive",
    ),
    rule:
      "per internal reward on the instruct model: little gain if the early gain is not above margin or is below half the base " +
      "model's; agrees if all are little; disagrees if one is above margin and at least the base model's.",
  });

  for (const x of out) if (x.id !== "F3") x.observed += insensitiveNote;

  // F5
  const f5 = base.map((c) => ({ c, h: relFall(c.entropy), t: relFall(c.transitional) }));
  const hFalls = f5.filter((x) => x.h !== null && x.h >= ENTROPY_FALL).length;
  const tMeasurable = f5.filter((x) => x.t !== null);
  const tFalls = tMeasurable.filter((x) => (x.t as number) >= TRANSITIONAL_FALL).length;
  const pct = (x: number | null) => (x === null ? "n/a" : `${(-100 * x).toFixed(1)}%`);
  out.push({
    id: "F5",
    claim: "Under RLIF, mean token entropy and the transitional-word rate fall.",
    observed: base.length
      ? f5
          .map(
            (x) =>
              `${x.c.reward}: entropy ${fmtSpread(x.c.entropy.first, 3, false)} → ${fmtSpread(x.c.entropy.last, 3, false)} (${pct(x.h)}), ` +
              `transitional ${fmtSpread(x.c.transitional.first, 2, false)} → ${fmtSpread(x.c.transitional.last, 2, false)} (${pct(x.t)})`,
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
  });

  // F6
  const mix = conds
    .filter((c) => c.group === "mix" && c.alpha !== undefined)
    .sort((a, b) => a.alpha! - b.alpha!);
  const ok = mix.filter((c) => c.initialEntropy && c.early);
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
  const f = (x: number | null) => (x === null ? "undefined" : x.toFixed(2));
  out.push({
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
  });
  return out;
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
