// The study's outputs in its folder: summary.json (built by analysis), report.html, findings.md
// and accuracy-base.svg (for the README), from every finished planned run.

import { existsSync } from "node:fs";
import { join } from "node:path";
import type { LoadedRun } from "../analysis/conditions.ts";
import { metricsFinished, readRun } from "../analysis/runs.ts";
import { conditionRecords } from "../analysis/study-records.ts";
import { buildSummary, type Summary, type SummaryInput } from "../analysis/summary.ts";
import type { ConditionRecords, Design } from "../analysis/verdicts.ts";
import { renderReport } from "../report/build.ts";
import { readJsonFile, writeFileAtomic } from "../util/fs.ts";
import { type PlannedRun, planStudy } from "./plan.ts";
import type { Profile } from "./profiles.ts";

/** Every finished planned run, read once, and the ids of those begun but not finished. A run still
 *  training (another `reproduce` process may share the folder) is left out of the report: its last
 *  evaluation is not its final one, and the verdicts pair runs at the same steps. An unreadable
 *  metrics file is an error naming its file and line. */
export function loadStudyRuns(runs: PlannedRun[]): { finished: LoadedRun[]; unfinished: string[] } {
  const finished: LoadedRun[] = [];
  const unfinished: string[] = [];
  for (const r of runs) {
    if (!existsSync(join(r.dir, "metrics.jsonl"))) continue;
    const metrics = readRun(r.dir);
    const { cfg: _c, guardEnds, mix: _m, ...info } = r;
    if (metricsFinished(metrics, r.steps, { guardEnds })) finished.push({ ...info, metrics });
    // A shared run (the mixing path's α = 0 is the base self-certainty run) is named once.
    else if (!r.sharedWith) unfinished.push(r.id);
  }
  return { finished, unfinished };
}

/** The paired verdicts' design a profile pre-registers: its early step and equivalence bound δ. */
export function studyDesign(profile: Profile): Omit<Design, "metric"> {
  return { earlyStep: profile.eval.earlyStep, delta: profile.delta, alpha: 0.05, resamples: 2000 };
}

/** A study folder read back for analyses after the study (scripts/dose-response.ts,
 *  scripts/condition-gains.ts): the profile its plan.json holds and its finished runs' records by
 *  condition. */
export function readStudyFolder(dir: string): { profile: Profile; conds: ConditionRecords[] } {
  const plan = readJsonFile<{ profile: Profile; base: string; instruct: string }>(join(dir, "plan.json"));
  const { finished } = loadStudyRuns(planStudy({ out: dir, ...plan }));
  return { profile: plan.profile, conds: conditionRecords(finished) };
}

export async function writeStudyReport(out: string, input: SummaryInput): Promise<Summary> {
  const summary = buildSummary(input);
  const { html, markdown, headlineSvg } = await renderReport(input, summary);
  writeFileAtomic(join(out, "report.html"), html);
  writeFileAtomic(join(out, "summary.json"), `${JSON.stringify(summary, null, 2)}\n`);
  writeFileAtomic(join(out, "findings.md"), markdown);
  if (headlineSvg) writeFileAtomic(join(out, "accuracy-base.svg"), headlineSvg);
  return summary;
}
