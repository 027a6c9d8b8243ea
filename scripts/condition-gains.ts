// Every condition's paired test gain in a study folder, at the pre-registered early step and at the
// end, on sampled and greedy accuracy: the report's statistics (paired bootstrap over seeds ×
// problems, 2,000 resamples) for conditions the verdicts do not tabulate (e.g. the instruct
// model's RLVR runs, majority vote). docs/reproduce.md quotes it.
// Usage: node --import tsx scripts/condition-gains.ts <study folder>
import { conditionKey } from "../src/analysis/conditions.ts";
import { effect, fmtEffect, gainGrid } from "../src/analysis/verdicts.ts";
import { readStudyFolder, studyDesign } from "../src/study/report.ts";

const dir = process.argv[2];
if (!dir) throw new Error("usage: condition-gains.ts <study folder>");
const { profile, conds } = readStudyFolder(dir);
for (const metric of ["sampled", "greedy"] as const) {
  const d = { ...studyDesign(profile), metric };
  for (const c of conds) {
    const early = effect("early", gainGrid(c, d.earlyStep, 0, metric), d, 1);
    const final = effect("final", gainGrid(c, "final", 0, metric), d, 2);
    console.log(
      `${metric} ${conditionKey(c)} (${c.runs.length} seeds): step ${d.earlyStep} ${fmtEffect(early)}; end ${fmtEffect(final)}`,
    );
  }
}
