// The run loop every trainer shares (pretraining, SFT, RL): a run folder with metrics.jsonl and
// atomic checkpoints, exact resume, best-checkpoint pinning, and what to do when a step turns up
// NaN/Inf (stop, roll back to the newest checkpoint and skip the batch, or throw).
//
// A step is a pure function of (seed, step) in every trainer, so resuming only needs the model,
// the optimizer and the trainer's small state from the checkpoint.

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { AdamW, type AdamWOptions } from "../engine/optim.ts";
import {
  type CheckpointState,
  type LoadedCheckpoint,
  listCheckpoints,
  loadLatestCheckpoint,
  pinCheckpoint,
  saveCheckpoint,
} from "../model/checkpoint.ts";
import type { Transformer } from "../model/transformer.ts";
import { appendJsonLine, truncateJsonlAfterStep } from "../util/fs.ts";

/** A step produced a non-finite loss, gradient or log-probability (before any update). */
export class NonFiniteError extends Error {}

/** stop: end the run; rollback: reload the newest checkpoint and skip the batch; throw: rethrow. */
export type NanPolicy = "stop" | "rollback" | "throw";

export interface RunOptions<S extends object> {
  /** Run folder: metrics.jsonl, checkpoints/. */
  out: string;
  adam: AdamWOptions;
  /** Continue from the newest checkpoint (else a folder that holds checkpoints is an error). */
  resume?: boolean;
  /** The trainer's own state saved with each checkpoint (next to `step`), and how a saved one
   *  is merged back on resume or roll-back. */
  state: S;
  restoreState?: (saved: CheckpointState, current: S) => S;
  /** Other per-step JSONL files in the run folder (e.g. evals.jsonl), cut back with metrics.jsonl
   *  to the restored step on resume. */
  logs?: string[];
  /** Checkpoints kept besides the pinned one (default: saveCheckpoint's). */
  keep?: number;
  /** Written into each checkpoint, so that it is a complete model folder. */
  tokenizerJson?: string;
  log?: (msg: string) => void;
}

export class TrainingRun<S extends object> {
  model: Transformer;
  opt: AdamW;
  state: S;
  /** The step the run continues from (0 for a fresh run). */
  start = 0;
  /** Whether open() continued from a checkpoint. */
  resumed = false;
  readonly metricsPath: string;
  private readonly log: (msg: string) => void;

  private constructor(
    initial: Transformer,
    private readonly o: RunOptions<S>,
  ) {
    this.model = initial;
    this.opt = new AdamW(initial.parameters(), o.adam);
    this.state = o.state;
    this.metricsPath = join(o.out, "metrics.jsonl");
    this.log = o.log ?? ((m) => console.warn(m));
  }

  /** Opens the run folder; with `resume`, continues from its newest usable checkpoint. */
  static open<S extends object>(initial: Transformer, o: RunOptions<S>): TrainingRun<S> {
    mkdirSync(o.out, { recursive: true });
    const run = new TrainingRun(initial, o);
    const ck = loadLatestCheckpoint(o.out, run.log);
    if (ck && !o.resume)
      throw new Error(
        `${o.out} already holds checkpoints: pass --resume to continue it, or choose another --out`,
      );
    if (ck) {
      run.restore(ck);
      run.resumed = true;
      truncateJsonlAfterStep(run.metricsPath, run.start);
      for (const name of o.logs ?? []) truncateJsonlAfterStep(join(o.out, name), run.start);
    } else if (o.resume && listCheckpoints(o.out).length > 0)
      throw new Error(`--resume: no usable checkpoint in ${o.out}/checkpoints`);
    return run;
  }

  private restore(ck: LoadedCheckpoint): void {
    this.model = ck.model;
    this.opt = new AdamW(this.model.parameters(), this.o.adam);
    if (ck.optimizer) this.opt.loadState(ck.optimizer.step, ck.optimizer.tensors);
    this.start = ck.state.step;
    if (this.o.restoreState) this.state = this.o.restoreState(ck.state, this.state);
  }

  /** Writes a checkpoint of the model, optimizer and state after `step`; returns its folder. */
  checkpoint(step: number): Promise<string> {
    return saveCheckpoint(
      this.o.out,
      this.model,
      this.opt,
      { step, ...this.state },
      { keep: this.o.keep, tokenizerJson: this.o.tokenizerJson },
    );
  }

  /** Keeps `dirs` (e.g. the best checkpoint) from being pruned; replaces earlier pins. */
  pin(...dirs: string[]): void {
    pinCheckpoint(this.o.out, dirs);
  }

  /** The folder of the checkpoint after `step`. */
  checkpointDir(step: number): string {
    return join(this.o.out, "checkpoints", `step-${String(step).padStart(7, "0")}`);
  }

  appendMetrics(m: object): void {
    appendJsonLine(this.metricsPath, m);
  }

  /** Appends to one of the run's other per-step logs (RunOptions.logs). */
  appendLog(name: string, line: object): void {
    appendJsonLine(join(this.o.out, name), line);
  }

  /** NaN/Inf at step `at` (0-based): stop, or roll back to the newest checkpoint and skip the batch. */
  onNonFinite(at: number, what: string, policy: "stop" | "rollback"): "stop" | "skip" {
    const msg = `step ${at + 1}: non-finite ${what}`;
    if (policy === "stop") {
      this.log(`${msg}. Stopped; the last checkpoint in ${this.o.out}/checkpoints is intact.`);
      this.appendMetrics({ step: at + 1, event: "nan-stop" });
      return "stop";
    }
    const ck = loadLatestCheckpoint(this.o.out, this.log);
    if (!ck) throw new Error(`${msg}, and there is no checkpoint to roll back to`);
    this.log(`${msg}. Rolled back to step ${ck.state.step} and skipped this batch.`);
    this.restore(ck);
    this.appendMetrics({ step: at + 1, event: "nan-rollback", to_step: ck.state.step });
    return "skip";
  }
}

export interface LoopResult {
  stoppedBy: "steps" | "stop" | "nan";
  /** Steps done (the step a stop happened at, for a stop). */
  step: number;
}

/**
 * Runs `body` for steps run.start .. end-1. A body returns "stop" to end the run after its step;
 * a NonFiniteError it throws is handled by `onNan`.
 */
export async function runSteps<S extends object>(
  run: TrainingRun<S>,
  end: number,
  onNan: NanPolicy,
  body: (step: number) => Promise<"next" | "stop">,
): Promise<LoopResult> {
  for (let step = run.start; step < end; step++) {
    try {
      if ((await body(step)) === "stop") return { stoppedBy: "stop", step: step + 1 };
    } catch (err) {
      if (!(err instanceof NonFiniteError) || onNan === "throw") throw err;
      if (run.onNonFinite(step, err.message, onNan) === "stop") return { stoppedBy: "nan", step };
    }
  }
  return { stoppedBy: "steps", step: Math.max(run.start, end) };
}
