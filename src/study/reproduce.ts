// The paper's study on the organism (rlif-spec.md, "Findings"): plan the runs, train those not
// finished (resuming interrupted ones), run the theory checks, then write the summary and the
// report. Every training run has its own folder under <out>/runs; an interrupted study picks up
// where it stopped.

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { RunGroup } from "../analysis/conditions.ts";
import { isFinished } from "../analysis/runs.ts";
import type { Summary } from "../analysis/summary.ts";
import { resolveModelDir } from "../model/open.ts";
import { withLock } from "../util/lock.ts";
import { executeStudy, type Trainer } from "./execute.ts";
import { methodsNote, profileNote, templateNote, timingNote } from "./notes.ts";
import { checkSameStudy, planStudy, type StudyOptions, selectRuns, writePlan } from "./plan.ts";
import { completeTestEvaluations } from "./posthoc.ts";
import { loadStudyRuns, studyDesign, writeStudyReport } from "./report.ts";
import { readTheory, updateTheory } from "./theory.ts";
import { addTiming, readTimings } from "./timings.ts";

export interface ReproduceOptions extends StudyOptions {
  /** Only (re)write the report from the runs already in `out`. */
  reportOnly?: boolean;
  /** Train only the runs of these groups (the report still shows every run that exists). */
  only?: RunGroup[];
  /** Trains one run (the CLI passes `rlif train`'s runTraining; tests pass a stub). */
  train: Trainer;
  log?: (m: string) => void;
}

export async function reproduce(o: ReproduceOptions): Promise<Summary> {
  const log = o.log ?? ((m: string) => console.error(m));
  mkdirSync(o.out, { recursive: true });
  const t0 = performance.now();
  // The folder's study may hold more conditions than this invocation trains (`--rewards`): the plan
  // and the report cover them all, training only this invocation's.
  const profile = checkSameStudy(join(o.out, "plan.json"), o);
  const study = { ...o, profile };
  const runs = planStudy(study);
  writePlan(study, runs);
  const timings = readTimings(o.out);
  if (!o.reportOnly) {
    // Fail before any training when a model is missing (the error says how to build it).
    const selected = selectRuns(planStudy(o), o.only);
    resolveModelDir(o.base);
    if (selected.some((r) => r.group === "instruct" || r.mix)) resolveModelDir(o.instruct);
    const done = await executeStudy(selected, o.train, log, (id, seconds) =>
      addTiming(o.out, timings, id, seconds),
    );
    // Test evaluations at the steps validation chose (peak, guard targets), from kept checkpoints.
    for (const r of selected) {
      if (!isFinished(r.dir, r.steps, { guardEnds: r.guardEnds })) continue;
      const n = await withLock(join(r.dir, ".lock"), () => completeTestEvaluations(r.cfg));
      if (n) log(`${r.id}: ${n} test evaluation(s) at validation-chosen steps`);
    }
    const trained = done.filter((d) => d.action !== "skipped");
    if (trained.length)
      log(`trained ${trained.length} runs in ${trained.reduce((a, d) => a + d.seconds, 0).toFixed(0)} s`);
  }
  const notes = timingNote(timings);
  const theory = readTheory(o.out);
  if (!o.reportOnly)
    await updateTheory(
      o.out,
      theory,
      [
        ["base", o.base],
        ["instruct", o.instruct],
      ],
      profile,
      log,
    );
  const { finished, unfinished } = loadStudyRuns(runs);
  if (unfinished.length)
    notes.push(
      `${unfinished.length} run(s) still training or interrupted, left out of this report: ${unfinished.join(", ")}`,
    );
  notes.push(profileNote(profile), ...methodsNote(profile), ...templateNote(runs));
  const summary = await writeStudyReport(o.out, {
    profile: profile.name,
    design: {
      ...studyDesign(profile),
      candidates: Object.fromEntries(
        (profile.methods ?? []).flatMap((m) =>
          m.candidates ? [[m.name, m.candidates.map((c) => c.label)]] : [],
        ),
      ),
    },
    runs: finished,
    theory,
    notes,
  });
  log(
    `wrote ${join(o.out, "report.html")} and summary.json (${((performance.now() - t0) / 1000).toFixed(0)} s)`,
  );
  return summary;
}
