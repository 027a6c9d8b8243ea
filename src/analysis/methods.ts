// The study's two questions about the methods beyond the paper (issue 16), decided like F1–F6 by
// paired tests on per-problem test records, each naming its test, interval and n:
//   Q1  is an internal reward's early gain larger than the random-reward control's?
//   Q2  does self-certainty with KL-Cov keep the early gain without the later decline?
// KL-Cov's top fraction k is chosen among its candidate runs on validation records only
// (bestCandidate); the test split reports the chosen one.

import { conditionName } from "./conditions.ts";
import { bestCandidate, type CandidateChoice } from "./selection.ts";
import {
  type ConditionRecords,
  contrastGrid,
  type Design,
  type Effect,
  effect,
  family,
  fmtEffect,
  gainContrastGrid,
  gainGrid,
  onCommonSeeds,
  pts,
  type StudyVerdict,
  significantDown,
  significantUp,
} from "./verdicts.ts";

/** The methods' condition names; the full profile (study/profiles.ts) plans its runs under them. */
export const METHOD_NAMES = {
  /** Bernoulli(0.5) reward on the internal rewards' schedule (one update per rollout batch). */
  random: "random",
  majorityVote: "majority-vote",
  /** The random reward with the PPO clip on and off, off-policy (4 updates per batch). */
  randomClip: "random-mb4",
  randomNoClip: "random-mb4-noclip",
  /** Plain self-certainty and self-certainty with KL-Cov, on the same off-policy schedule. */
  selfCertainty: "self-certainty-mb4",
  klCov: "self-certainty-klcov-mb4",
} as const;
const N = METHOD_NAMES;

/** The label-free rewards Q1 compares with the random control: the paper's internal rewards and
 *  TTRL's majority vote, all on the same schedule as the control. */
export const LABEL_FREE = ["self-certainty", "token-entropy", "trajectory-entropy", N.majorityVote];

/** A base-model condition by name: a paper condition by its reward, a method by its name. */
function byName(conds: readonly ConditionRecords[], name: string): ConditionRecords | undefined {
  return conds.find((c) => c.group === "base" && conditionName(c) === name);
}

/** The KL-Cov condition the report uses: the candidate validation chose, or the single one. */
export function klCovCondition(
  conds: readonly ConditionRecords[],
  design: Pick<Design, "candidates">,
): { cond: ConditionRecords | null; choice: CandidateChoice | null } {
  const cands = conds.filter((c) => c.group === "base" && c.method === N.klCov && c.candidate);
  const labels = design.candidates?.[N.klCov] ?? cands.map((c) => c.candidate as string);
  if (!labels.length) return { cond: byName(conds, N.klCov) ?? null, choice: null };
  // Only the validation records go to the choice.
  const choice = bestCandidate(
    labels.map((label) => ({
      label,
      runs: (cands.find((c) => c.candidate === label)?.runs ?? []).map(({ seed, final, val }) => ({
        seed,
        final,
        val,
      })),
    })),
  );
  return { cond: choice ? (cands.find((c) => c.candidate === choice.chosen) ?? null) : null, choice };
}

const named = (label: string, e: Effect | null) => `${label} ${fmtEffect(e)}`;

/** Q1: the internal rewards' early gains against the random control's, paired, Holm over rewards. */
export function decideQ1(conds: readonly ConditionRecords[], d: Design): StudyVerdict {
  const random = byName(conds, N.random);
  const rewards = LABEL_FREE.flatMap((n) => {
    const c = byName(conds, n);
    return c ? [c] : [];
  });
  const vs = family(
    rewards.map((c, i) =>
      random
        ? effect(
            `${conditionName(c)} − random`,
            gainContrastGrid(c, random, d.earlyStep, d.metric),
            d,
            500 + i,
          )
        : null,
    ),
  );
  const present = vs.filter((e): e is Effect => !!e);
  const larger = present.filter((e) => significantUp(e, d.alpha));
  const gainOf = (c: ConditionRecords | undefined, salt: number) =>
    c ? effect("gain", gainGrid(c, d.earlyStep, 0, d.metric), d, salt) : null;
  const on = byName(conds, N.randomClip);
  const off = byName(conds, N.randomNoClip);
  const clip =
    on && off ? effect("clip on − off", gainContrastGrid(on, off, d.earlyStep, d.metric), d, 513) : null;
  const verdict = !present.length
    ? "not testable"
    : larger.length
      ? "agrees"
      : present.every((e) => e.interval.hi < d.delta)
        ? "disagrees"
        : "inconclusive";
  const why = !random
    ? "no random-reward control runs (the full profile has them)"
    : !rewards.length
      ? "no internal-reward runs"
      : !present.length
        ? `no paired test records at step ${d.earlyStep}`
        : null;
  return {
    id: "Q1",
    claim:
      "An internal reward's early gain is larger than that of a random reward (Bernoulli(0.5), no signal), trained the same way.",
    verdict,
    observed:
      (why ? `${why}; ` : "") +
      `random control's early gain at step ${d.earlyStep}: ${fmtEffect(gainOf(random, 510))}` +
      `; each reward's early gain − the random control's: ${
        present.length
          ? present
              .map(
                (e) =>
                  `${e.label.replace(" − random", "")} ${fmtEffect(e)}${significantUp(e, d.alpha) ? " (larger)" : ""}`,
              )
              .join("; ")
          : "n/a"
      }` +
      `; the clip's share, 4 updates per batch: random gain with the clip ${fmtEffect(gainOf(on, 511))}, without ${fmtEffect(gainOf(off, 512))}, on − off ${fmtEffect(clip)}`,
    rule:
      `Test-split ${d.metric} accuracy. Per label-free reward (${LABEL_FREE.join(", ")}), its gain at the pre-registered step ` +
      `${d.earlyStep} (vs step 0) minus the random control's gain, paired by seed (same prompts) and problem, bootstrap over ` +
      `seeds × problems, Holm over the rewards at α = ${d.alpha}. Agrees if some reward's difference is significantly above 0; ` +
      `disagrees if none is and every upper 95% bound is below δ = ${pts(d.delta)} pts; else inconclusive; not testable without ` +
      "the control's runs. With one update per batch the PPO clip never acts, so clip on vs off is measured on its own pair " +
      "run with 4 updates per batch (descriptive, not part of the verdict).",
  };
}

/** Q2: KL-Cov against plain self-certainty (same schedule) at the end, and KL-Cov's end against its
 *  early step; testable when plain self-certainty declines after the early step. */
export function decideQ2(
  conds: readonly ConditionRecords[],
  d: Design,
  kl: { cond: ConditionRecords | null; choice: CandidateChoice | null },
): StudyVerdict {
  const sc = byName(conds, N.selfCertainty) ?? null;
  const k = kl.cond;
  const m = d.metric;
  const scEarly = sc && effect("gain", gainGrid(sc, d.earlyStep, 0, m), d, 520);
  const scDecline = sc && effect("final − early", gainGrid(sc, "final", d.earlyStep, m), d, 521);
  const klEarly = k && effect("gain", gainGrid(k, d.earlyStep, 0, m), d, 522);
  const klDecline = k && effect("final − early", gainGrid(k, "final", d.earlyStep, m), d, 523);
  const pair = k && sc ? onCommonSeeds(k, sc) : null;
  const atEarly = pair && effect("KL-Cov − plain", contrastGrid(...pair, d.earlyStep, m), d, 524);
  const atFinal = pair && effect("KL-Cov − plain", contrastGrid(...pair, "final", m), d, 525);
  const missing = !sc
    ? "no plain self-certainty runs on the KL-Cov schedule"
    : !k
      ? kl.choice === null && (d.candidates?.[N.klCov]?.length ?? 0) > 0
        ? "KL-Cov's candidate runs are not all finished, so validation has not chosen k"
        : "no KL-Cov runs"
      : !atFinal || !klDecline || !scDecline
        ? "no paired test records at the early and final steps"
        : null;
  const declines = significantDown(scDecline ?? null, d.alpha);
  const verdict = missing
    ? "not testable"
    : !declines
      ? "not testable"
      : significantUp(atFinal ?? null, d.alpha) && (klDecline as Effect).interval.lo > -d.delta
        ? "agrees"
        : significantDown(klDecline ?? null, d.alpha) || (atFinal as Effect).interval.hi < d.delta
          ? "disagrees"
          : "inconclusive";
  const choice = kl.choice
    ? `k chosen on validation (${kl.choice.metric} accuracy at step ${kl.choice.step}, ${kl.choice.scores[0].seeds} seed(s) × ${kl.choice.scores[0].problems} problems): ${kl.choice.scores
        .map((s) => `${s.label} ${s.score.toFixed(3)}`)
        .join(", ")} → ${kl.choice.chosen}; `
    : "";
  return {
    id: "Q2",
    claim:
      "Self-certainty with KL-Cov keeps self-certainty's early gain without its later decline (4 updates per batch, both).",
    verdict,
    observed:
      (missing
        ? `${missing}; `
        : !declines
          ? "plain self-certainty does not decline significantly after the early step, so there is no decline to prevent; "
          : "") +
      choice +
      `plain self-certainty: ${named(`gain at step ${d.earlyStep}`, scEarly ?? null)}, ${named("final − early", scDecline ?? null)}` +
      `; KL-Cov: ${named(`gain at step ${d.earlyStep}`, klEarly ?? null)}, ${named("final − early", klDecline ?? null)}` +
      `; KL-Cov − plain: ${named(`at step ${d.earlyStep}`, atEarly ?? null)}, ${named("at the final step", atFinal ?? null)}`,
    rule:
      `Test-split ${m} accuracy, paired over seeds × problems (bootstrap). Testable when plain self-certainty (same schedule) ` +
      `declines after the early step: its final − step ${d.earlyStep} difference is significantly below 0 (p < ${d.alpha}). Agrees ` +
      `if KL-Cov ends significantly above plain self-certainty (seed- and problem-paired at the final step) and its own final − ` +
      `early has a lower 95% bound above −δ = ${pts(-d.delta)} pts; both must hold (an intersection–union test, so no ` +
      "correction). Disagrees if KL-Cov's final − early is significantly below 0, or KL-Cov − plain at the final step has an " +
      `upper 95% bound below δ; else inconclusive. KL-Cov's k is the candidate with the best validation sampled accuracy at ` +
      "the last step (mean over seeds); the test split never chooses.",
  };
}

export interface MethodAnswers {
  /** KL-Cov's k, chosen on validation (null: no candidates, or their runs are not all finished). */
  klCovChoice: CandidateChoice | null;
  /** Q1 and Q2 on sampled accuracy (primary) and on greedy accuracy. */
  sampled: StudyVerdict[];
  greedy: StudyVerdict[];
}

export function methodAnswers(
  conds: readonly ConditionRecords[],
  design: Omit<Design, "metric">,
): MethodAnswers {
  const kl = klCovCondition(conds, design);
  const on = (metric: Design["metric"]) => {
    const d = { ...design, metric };
    return [decideQ1(conds, d), decideQ2(conds, d, kl)];
  };
  return { klCovChoice: kl.choice, sampled: on("sampled"), greedy: on("greedy") };
}
