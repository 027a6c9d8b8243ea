// Every condition's paired test gain in a study folder, at the pre-registered early step and at the
// end, on sampled and greedy accuracy: the report's statistics (paired bootstrap over seeds ×
// problems, 2,000 resamples) for conditions the verdicts do not tabulate (e.g. the instruct
// model's RLVR runs, majority vote). docs/reproduce.md quotes it.
// Usage: node --import tsx scripts/condition-gains.ts <study folder>
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { conditionRecords } from "../src/analysis/study-records.ts";
import { type Design, effect, fmtEffect, gainGrid } from "../src/analysis/verdicts.ts";
import { planStudy } from "../src/study/plan.ts";
import { loadStudyRuns } from "../src/study/report.ts";

const dir = process.argv[2];
if (!dir) throw new Error("usage: condition-gains.ts <study folder>");
const plan = JSON.parse(readFileSync(join(dir, "plan.json"), "utf8"));
const conds = conditionRecords(loadStudyRuns(planStudy({ out: dir, ...plan })).finished);
for (const metric of ["sampled", "greedy"] as const) {
  const d: Design = {
    earlyStep: plan.profile.eval.earlyStep,
    delta: plan.profile.delta,
    alpha: 0.05,
    metric,
    resamples: 2000,
  };
  for (const c of conds) {
    const name = `${c.group}/${c.method ?? c.reward}${c.alpha !== undefined ? ` α=${c.alpha}` : ""}`;
    const early = effect("early", gainGrid(c, d.earlyStep, 0, metric), d, 1);
    const final = effect("final", gainGrid(c, "final", 0, metric), d, 2);
    console.log(
      `${metric} ${name} (${c.runs.length} seeds): step ${d.earlyStep} ${fmtEffect(early)}; end ${fmtEffect(final)}`,
    );
  }
}
