// Test evaluations that only validation can schedule: after a run, the test set is evaluated at the
// steps the validation split chose — the run's peak (best validation accuracy) and, for a guarded
// run, both rollback targets (by validation, and label-free) — from their kept checkpoints. The
// lines go to the run's evals.jsonl marked with why they were made.

import { existsSync } from "node:fs";
import { join } from "node:path";
import { EVALS_FILE, readProblemLines, splitRecords } from "../analysis/records.ts";
import { readRun } from "../analysis/runs.ts";
import { peakStep } from "../analysis/selection.ts";
import { evaluateHeldOut, heldOutSets } from "../eval/held-out.ts";
import { checkpointDir } from "../model/checkpoint.ts";
import { openModel } from "../model/open.ts";
import type { TrainConfig } from "../rl/config.ts";
import { appendJsonLine } from "../util/fs.ts";

/** The steps validation chose in a finished run (with why), each with a kept checkpoint. */
export function chosenSteps(runDir: string): { step: number; why: string }[] {
  const { val } = splitRecords(readProblemLines(runDir));
  const kept = (s: number) => existsSync(join(checkpointDir(runDir, s), "model.safetensors"));
  const out: { step: number; why: string }[] = [];
  const peak = peakStep(val, "sampled", kept);
  if (peak !== null) out.push({ step: peak, why: "validation-peak" });
  const rb = existsSync(join(runDir, "metrics.jsonl"))
    ? readRun(runDir).events.find((e) => e.event === "guard-rollback")
    : undefined;
  if (typeof rb?.validation_target === "number")
    out.push({ step: rb.validation_target, why: "guard-validation-target" });
  if (typeof rb?.signals_target === "number")
    out.push({ step: rb.signals_target, why: "guard-signals-target" });
  return out.filter((c) => kept(c.step));
}

/** Evaluates the test set at every chosen step that has no test evaluation yet; returns how many. */
export async function completeTestEvaluations(cfg: TrainConfig): Promise<number> {
  const dir = cfg.out;
  const { test } = splitRecords(readProblemLines(dir));
  const todo = chosenSteps(dir).filter(
    (c, i, all) => !test.has(c.step) && all.findIndex((x) => x.step === c.step) === i,
  );
  for (const c of todo) {
    const { model, codec, kind } = openModel(checkpointDir(dir, c.step), { template: cfg.data.template });
    try {
      const r = await evaluateHeldOut(model, codec, heldOutSets(cfg, kind).test, c.step, c.why);
      for (const l of r.lines) appendJsonLine(join(dir, EVALS_FILE), l);
    } finally {
      model.dispose();
    }
  }
  return todo.length;
}
