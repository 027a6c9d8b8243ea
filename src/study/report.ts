// The study's outputs in its folder: summary.json (built by analysis), report.html, findings.md
// and accuracy-base.svg (for the README), from every planned run that has metrics.

import { existsSync } from "node:fs";
import { join } from "node:path";
import type { LoadedRun } from "../analysis/conditions.ts";
import { readRun } from "../analysis/runs.ts";
import { buildSummary, type Summary, type SummaryInput } from "../analysis/summary.ts";
import { renderReport } from "../report/build.ts";
import { writeFileAtomic } from "../util/fs.ts";
import type { PlannedRun } from "./plan.ts";

/** Load every planned run that has metrics (unstarted runs are left out of the report). */
export function loadStudyRuns(runs: PlannedRun[]): LoadedRun[] {
  return runs.flatMap((r) => {
    if (!existsSync(join(r.dir, "metrics.jsonl"))) return [];
    const { cfg: _c, guardEnds: _g, mix: _m, ...info } = r;
    return [{ ...info, metrics: readRun(r.dir) }];
  });
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
