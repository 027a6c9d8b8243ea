// The run loop every trainer shares (pretraining, SFT, RL): a run folder with metrics.jsonl and
// atomic checkpoints, exact resume, best-checkpoint pinning, and what to do when a step turns up
// NaN/Inf (stop, roll back to the newest checkpoint and skip the batch, or throw). One process
// at a time works in a run folder (its lock, run-folder.ts), and SIGINT/SIGTERM end the run after
// the current step with a checkpoint of it (stop-signals.ts).
//
// A step is a pure function of (seed, step) in every trainer, so resuming only needs the model,
// the optimizer and the trainer's small state from the checkpoint.

import { join } from "node:path";
import { AdamW, type AdamWOptions } from "../engine/optim.ts";
import {
  type CheckpointState,
  checkpointDir,
  type LoadedCheckpoint,
  loadLatestCheckpoint,
  pinCheckpoint,
  saveCheckpoint,
} from "../model/checkpoint.ts";
import type { Transformer } from "../model/transformer.ts";
import { appendJsonLine } from "../util/fs.ts";
import { openRunFolder } from "./run-folder.ts";
import { type StoppedBySignal, StopSignals, stoppedAfter } from "./stop-signals.ts";

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
  /** Start over from step 0, moving the folder's checkpoints and step logs aside. */
  restart?: boolean;
  /** Files written one record per step, relative to `out` (default run-folder.ts STEP_LOGS):
   *  truncated together to the checkpoint a run continues from. */
  stepLogs?: readonly string[];
  /** The trainer's own state saved with each checkpoint (next to `step`), and how a saved one
   *  is merged back on resume or roll-back. */
  state: S;
  restoreState?: (saved: CheckpointState, current: S) => S;
  /** Checkpoints kept besides the pinned one (default: saveCheckpoint's). */
  keep?: number;
  /** Written into each checkpoint, so that it is a complete model folder. */
  tokenizerJson?: string;
  log?: (msg: string) => void;
}

/** A run owns the model it is opened with: a model it replaces (resume, roll-back) is freed, and
 *  so are the optimizer state and the gradients when it closes. The model it ends with is the
 *  caller's to free; a run that fails frees it too. */
export class TrainingRun<S extends object> {
  private current: Transformer;
  private optimizer: AdamW;
  state: S;
  /** The step the run continues from (0 for a fresh run). */
  start = 0;
  /** Whether open() continued from a checkpoint. */
  resumed = false;
  readonly metricsPath: string;
  /** SIGINT/SIGTERM, from open() to close(). */
  readonly stop: StopSignals;
  private readonly log: (msg: string) => void;
  /** The newest checkpoint this run holds (restored or written), if any. */
  private saved: { dir: string; step: number } | null = null;
  private release: (() => void) | null;

  private constructor(
    initial: Transformer,
    private readonly o: RunOptions<S>,
    release: () => void,
  ) {
    this.current = initial;
    this.optimizer = new AdamW(initial.parameters(), o.adam);
    this.state = o.state;
    this.metricsPath = join(o.out, "metrics.jsonl");
    this.log = o.log ?? ((m) => console.warn(m));
    this.release = release;
    this.stop = new StopSignals(this.log);
  }

  /**
   * Opens the run folder (taking its lock); with `resume`, continues from its newest usable
   * checkpoint. Every run opened is closed with close(), however it ends.
   */
  static open<S extends object>(initial: Transformer, o: RunOptions<S>): TrainingRun<S> {
    let folder: ReturnType<typeof openRunFolder>;
    try {
      folder = openRunFolder({ ...o, log: o.log ?? ((m) => console.warn(m)) });
    } catch (e) {
      initial.dispose();
      throw e;
    }
    const run = new TrainingRun(initial, o, folder.release);
    try {
      if (folder.checkpoint) {
        run.restore(folder.checkpoint);
        run.resumed = true;
        run.saved = { dir: folder.checkpoint.dir, step: run.start };
      }
    } catch (e) {
      run.close({ failed: true });
      throw e;
    }
    return run;
  }

  /** The policy being trained. */
  get model(): Transformer {
    return this.current;
  }

  get opt(): AdamW {
    return this.optimizer;
  }

  /** Releases the run folder, stops catching signals and frees the optimizer state and the
   *  gradients; a failed run frees its model as well. */
  close({ failed }: { failed: boolean }): void {
    this.stop.dispose();
    this.release?.();
    this.release = null;
    this.optimizer.dispose();
    if (failed) this.current.dispose();
    else this.current.dropGradients();
  }

  /** Continue with `model` (a checkpoint's, after a roll-back) and a fresh optimizer; the
   *  model and optimizer it replaces are freed. */
  replaceModel(model: Transformer): void {
    if (model !== this.current) this.current.dispose();
    this.optimizer.dispose();
    this.current = model;
    this.optimizer = new AdamW(model.parameters(), this.o.adam);
  }

  private restore(ck: LoadedCheckpoint): void {
    this.replaceModel(ck.model);
    if (ck.optimizer) this.opt.loadState(ck.optimizer.step, ck.optimizer.tensors);
    this.start = ck.state.step;
    if (this.o.restoreState) this.state = this.o.restoreState(ck.state, this.state);
  }

  /** Writes a checkpoint of the model, optimizer and state after `step`; returns its folder. */
  async checkpoint(step: number): Promise<string> {
    const dir = await saveCheckpoint(
      this.o.out,
      this.model,
      this.opt,
      { step, ...this.state },
      { keep: this.o.keep, tokenizerJson: this.o.tokenizerJson },
    );
    this.saved = { dir, step };
    return dir;
  }

  /** A stop signal came and `step` steps are done: checkpoint them (unless that is the newest
   *  checkpoint already) and return the error the run ends with. */
  async stoppedAt(step: number, total: number): Promise<StoppedBySignal> {
    const written = step > 0 && this.saved?.step !== step;
    if (written) await this.checkpoint(step);
    return stoppedAfter(this.stop.received!, step, total, this.saved && { dir: this.saved.dir, written });
  }

  /** Keeps `dirs` (e.g. the best checkpoint) from being pruned; replaces earlier pins. */
  pin(...dirs: string[]): void {
    pinCheckpoint(this.o.out, dirs);
  }

  /** The folder of the checkpoint after `step`. */
  checkpointDir(step: number): string {
    return checkpointDir(this.o.out, step);
  }

  appendMetrics(m: object): void {
    appendJsonLine(this.metricsPath, m);
  }

  /** Appends to one of the run's other per-step logs (RunOptions.stepLogs). */
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
 * a NonFiniteError it throws is handled by `onNan`. After a stop signal no further step starts:
 * the steps done are checkpointed and StoppedBySignal is thrown.
 */
export async function runSteps<S extends object>(
  run: TrainingRun<S>,
  end: number,
  onNan: NanPolicy,
  body: (step: number) => Promise<"next" | "stop">,
): Promise<LoopResult> {
  for (let step = run.start; step < end; step++) {
    if (await run.stop.check()) throw await run.stoppedAt(step, end);
    try {
      if ((await body(step)) === "stop") return { stoppedBy: "stop", step: step + 1 };
    } catch (err) {
      if (!(err instanceof NonFiniteError) || onNan === "throw") throw err;
      if (run.onNonFinite(step, err.message, onNan) === "stop") return { stoppedBy: "nan", step };
    }
  }
  return { stoppedBy: "steps", step: Math.max(run.start, end) };
}
