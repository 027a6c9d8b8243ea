// The study's execution loop: train every planned run that is not finished. A finished run is
// skipped, an interrupted one resumes from its last checkpoint, a run locked by another live
// `reproduce` process is left to it; a mixing run writes its mixed model first.

import { existsSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { isFinished } from "../analysis/runs.ts";
import type { TrainConfig } from "../rl/config.ts";
import { lockHolder, releaseLock, runLockPath, takeLock, withLock } from "../util/lock.ts";
import { ensureMixModel } from "./mix.ts";
import type { PlannedRun } from "./plan.ts";

export type Trainer = (
  cfg: TrainConfig,
  opts: { quiet?: boolean; resume?: boolean; step0Cache?: string },
) => Promise<unknown>;

export interface RunOutcome {
  id: string;
  action: "skipped" | "trained" | "resumed";
  seconds: number;
}

/** Train every planned run that is not finished; returns what happened to each. */
export async function executeStudy(
  runs: PlannedRun[],
  train: Trainer,
  log: (msg: string) => void = console.error,
  onDone: (id: string, seconds: number) => void = () => {},
): Promise<RunOutcome[]> {
  const done = new Set<string>();
  const out: RunOutcome[] = [];
  for (const r of runs) {
    if (done.has(r.dir)) continue; // a run shared by two conditions (mix α = 0)
    done.add(r.dir);
    if (isFinished(r.dir, r.steps, { guardEnds: r.guardEnds })) {
      log(`${r.id}: finished, skipped`);
      out.push({ id: r.id, action: "skipped", seconds: 0 });
      continue;
    }
    // Several `reproduce` processes on one study folder share the runs: each takes a run's lock.
    mkdirSync(r.dir, { recursive: true });
    const lock = runLockPath(r.dir);
    if (!takeLock(lock)) {
      log(`${r.id}: being trained by process ${lockHolder(lock)}, skipped`);
      out.push({ id: r.id, action: "skipped", seconds: 0 });
      continue;
    }
    const t0 = performance.now();
    let resume = false;
    try {
      const mix = r.mix;
      if (mix)
        await withLock(`${r.model}.lock`, () => ensureMixModel(r.model, mix, r.cfg.rollout.max_new_tokens));
      resume = existsSync(join(r.dir, "checkpoints"));
      log(`${r.id}: ${resume ? "resuming" : "training"} (${r.steps} steps)`);
      // Runs from the same model and seed share their step-0 evaluations (<study>/cache).
      await train(r.cfg, { quiet: true, resume, step0Cache: join(dirname(dirname(r.dir)), "cache") });
    } finally {
      releaseLock(lock);
    }
    const seconds = (performance.now() - t0) / 1000;
    log(`${r.id}: done in ${seconds.toFixed(0)} s`);
    onDone(r.id, seconds);
    out.push({ id: r.id, action: resume ? "resumed" : "trained", seconds });
  }
  return out;
}
