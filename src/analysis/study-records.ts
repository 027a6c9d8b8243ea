// The study's runs as per-problem records (evals.jsonl) grouped into conditions, and the analyses
// made from them: the verdicts F1–F6 and what each guard variant keeps, all with paired intervals.

import { conditionName, isPaperCondition, type LoadedRun, methodOf } from "./conditions.ts";
import { readProblemLines, splitRecords } from "./records.ts";
import { lastStep } from "./runs.ts";
import { pairedBootstrap } from "./statistics.ts";
import {
  type ConditionRecords,
  type Design,
  decideAll,
  type Effect,
  fmtEffect,
  gainGrid,
  type StudyVerdict,
} from "./verdicts.ts";

/** Runs with per-problem records, grouped into conditions (mix conditions by α, methods beyond the
 *  paper by name: conditionName). */
export function conditionRecords(runs: LoadedRun[]): ConditionRecords[] {
  const byKey = new Map<string, ConditionRecords>();
  for (const r of runs) {
    const lines = readProblemLines(r.dir);
    if (!lines.length) continue;
    const key = r.group === "mix" ? `mix/${r.alpha}` : `${r.group}/${conditionName(r)}`;
    let c = byKey.get(key);
    if (!c)
      byKey.set(key, (c = { group: r.group, reward: r.reward, alpha: r.alpha, ...methodOf(r), runs: [] }));
    c.runs.push({ seed: r.seed, final: lastStep(r.metrics), ...splitRecords(lines) });
  }
  return [...byKey.values()];
}

/** The verdicts on one metric (sampled accuracy is primary, greedy second), on the paper's
 *  conditions only. */
export function studyVerdicts(conds: ConditionRecords[], design: Design): StudyVerdict[] {
  const paperBase = conds.filter((c) => c.group === "base" && isPaperCondition(c));
  return decideAll({
    base: paperBase.filter((c) => c.reward !== "correctness"),
    rlvr: paperBase.find((c) => c.reward === "correctness"),
    instruct: conds.filter((c) => c.group === "instruct"),
    mix: conds.filter((c) => c.group === "mix"),
    design,
  });
}

export interface GuardKeep {
  reward: string;
  seed: number;
  firedAt: number | null;
  validationTarget: number | null;
  signalsTarget: number | null;
  /** Test gain (vs step 0) of the model each variant ends with; and, for comparison, the unguarded
   *  run's gain at the pre-registered early step and at its end. */
  keptByValidation: Effect | null;
  keptBySignals: Effect | null;
  unguardedEarly: Effect | null;
  unguardedFinal: Effect | null;
}

function gainEffect(
  label: string,
  c: ConditionRecords | undefined,
  at: number | "final" | null,
  design: Design,
  salt: number,
): Effect | null {
  if (!c || at === null) return null;
  const g = gainGrid(c, at, 0, design.metric);
  return g
    ? { label, interval: pairedBootstrap(g, { resamples: design.resamples, seed: 500 + salt }) }
    : null;
}

/** What each guard keeps: the gain of the validation-chosen and of the label-free rollback target. */
export function guardKeeps(runs: LoadedRun[], conds: ConditionRecords[], design: Design): GuardKeep[] {
  return runs
    .filter((r) => r.group === "guard")
    .flatMap((r, i) => {
      const lines = readProblemLines(r.dir);
      if (!lines.length) return [];
      const self: ConditionRecords = {
        group: "guard",
        reward: r.reward,
        runs: [{ seed: r.seed, final: lastStep(r.metrics), ...splitRecords(lines) }],
      };
      const rb = r.metrics.events.find((e) => e.event === "guard-rollback");
      const fired = r.metrics.steps.find((s) => typeof s.guard === "string");
      const plainAll = conds.find((c) => c.group === "base" && isPaperCondition(c) && c.reward === r.reward);
      const plain = plainAll && { ...plainAll, runs: plainAll.runs.filter((x) => x.seed === r.seed) };
      return [
        {
          reward: r.reward,
          seed: r.seed,
          firedAt: fired?.step ?? null,
          validationTarget: rb?.validation_target ?? null,
          signalsTarget: rb?.signals_target ?? null,
          keptByValidation: gainEffect(
            "kept (validation target)",
            self,
            rb?.validation_target ?? null,
            design,
            10 * i,
          ),
          keptBySignals: gainEffect(
            "kept (label-free target)",
            self,
            rb?.signals_target ?? null,
            design,
            10 * i + 1,
          ),
          unguardedEarly: gainEffect("unguarded early", plain, design.earlyStep, design, 10 * i + 2),
          unguardedFinal: gainEffect("unguarded final", plain, "final", design, 10 * i + 3),
        },
      ];
    });
}

export { fmtEffect };
