// The study's outputs in its folder: summary.json (built by analysis), report.html, findings.md
// and accuracy-base.svg (for the README), from every finished planned run.

import { existsSync } from "node:fs";
import { join } from "node:path";
import type { LoadedRun } from "../analysis/conditions.ts";
import { isFinished, readRun } from "../analysis/runs.ts";
import { buildSummary, type Summary, type SummaryInput } from "../analysis/summary.ts";
import { renderReport } from "../report/build.ts";
import { writeFileAtomic } from "../util/fs.ts";
import type { PlannedRun } from "./plan.ts";

/** Load every finished planned run. A run still training (another `reproduce` process may share
 *  the folder) is left out: its last evaluation is not its final one, and the verdicts pair runs at
 *  the same steps. */
export function loadStudyRuns(runs: PlannedRun[]): LoadedRun[] {
  return runs.flatMap((r) => {
    if (!isFinished(r.dir, r.steps, { guardEnds: r.guardEnds })) return [];
    const { cfg: _c, guardEnds: _g, mix: _m, ...info } = r;
    return [{ ...info, metrics: readRun(r.dir) }];
  });
}

/** The planned runs that have begun and not finished (the report says it left them out). */
export function unfinishedRuns(runs: PlannedRun[]): string[] {
  // A shared run (the mixing path's α = 0 is the base self-certainty run) is named once.
  const started = runs.filter((r) => !r.sharedWith && existsSync(join(r.dir, "metrics.jsonl")));
  return started.filter((r) => !isFinished(r.dir, r.steps, { guardEnds: r.guardEnds })).map((r) => r.id);
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
