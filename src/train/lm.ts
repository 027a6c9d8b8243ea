// The language-model step behind `rlif pretrain` and `rlif sft`: next-token loss, AdamW with
// warm-up + cosine, gradient clipping. The run loop (metrics, checkpoints, resume) is run.ts's.
//
// Batches are a pure function of (seed, step), so a resumed run sees exactly the batches an
// uninterrupted one would have, without saving a data cursor.

import { clipGradNormAsync, learningRate } from "../engine/optim.ts";
import { backward, tidy } from "../engine/tensor.ts";
import { nextTokenLoss } from "../model/loss.ts";
import type { Transformer } from "../model/transformer.ts";
import { NonFiniteError, runSteps, TrainingRun } from "./run.ts";

export interface TokenBatch {
  ids: Int32Array;
  /** Loss weight of predicting token t+1 from position t (0 = ignored). */
  weights: Float32Array;
  B: number;
  T: number;
}

export interface BatchSource {
  batchAt(step: number): TokenBatch;
}

export interface LmTrainOptions {
  steps: number;
  lr: number;
  warmupSteps: number;
  minLrRatio: number;
  weightDecay: number;
  gradClip: number;
  checkpointEvery: number;
  logEvery: number;
  outDir: string;
  tokenizerJson?: string;
  resume?: boolean;
  /** Start over, moving the folder's checkpoints and metrics aside. */
  restart?: boolean;
  /** Stop after this many steps (the schedule still spans `steps`): for staged runs and tests. */
  stopAt?: number;
  /** Called after each logged step (progress bars, evaluation). */
  onLog?: (m: LmStepMetrics) => void;
  /** Called every `evalEvery` steps with the model; its numbers are merged into the log line. */
  evaluate?: (model: Transformer, step: number) => Promise<Record<string, number>>;
  evalEvery?: number;
}

export interface LmStepMetrics {
  step: number;
  loss: number;
  grad_norm: number;
  lr: number;
  tokens: number;
  tokens_per_s: number;
  elapsed_s: number;
  [k: string]: number;
}

/** NaN/Inf loss or gradient in pretraining/SFT: the run stops before the update (never rolls back). */
export class DivergenceError extends NonFiniteError {}

/** Train `model` in place; returns it (or the model restored from the newest checkpoint on resume).
 *  The run owns `initial` (train/run.ts): a model it replaces is freed, the one returned is the caller's. */
export async function trainLm(
  initial: Transformer,
  data: BatchSource,
  o: LmTrainOptions,
): Promise<{ model: Transformer; lastLoss: number }> {
  const run = TrainingRun.open(initial, {
    out: o.outDir,
    adam: { lr: o.lr, weightDecay: o.weightDecay, beta2: 0.95 },
    resume: o.resume,
    restart: o.restart,
    state: {},
    tokenizerJson: o.tokenizerJson,
  });
  let failed = true;
  try {
    const t0 = performance.now();
    let tokensSinceLog = 0;
    let tLog = performance.now();
    let lastLoss = Number.NaN;
    const end = Math.min(o.steps, o.stopAt ?? o.steps);
    await runSteps(run, end, "throw", async (step) => {
      const { model, opt } = run;
      const batch = data.batchAt(step);
      const lr = learningRate(step, {
        lr: o.lr,
        totalSteps: o.steps,
        warmupSteps: o.warmupSteps,
        minLrRatio: o.minLrRatio,
      });
      const r = tidy(() => {
        opt.zeroGrad();
        const r = nextTokenLoss(model, batch.ids, batch.B, batch.T, batch.weights);
        backward(r.loss);
        return r;
      });
      // The host reads two numbers a step (the loss, the gradient norm); the rest stays on the device.
      const loss = (await r.loss.read())[0];
      r.loss.dispose();
      const tokens = r.tokens;
      const gradNorm = await clipGradNormAsync(model.parameters().values(), o.gradClip);
      if (!Number.isFinite(loss) || !Number.isFinite(gradNorm))
        throw new DivergenceError(
          `step ${step}: loss ${loss}, gradient norm ${gradNorm} — stopped before the update; ` +
            `checkpoints in ${o.outDir}/checkpoints are intact (resume with --resume, e.g. at a lower lr)`,
        );
      opt.update(lr);
      lastLoss = loss;
      tokensSinceLog += tokens;
      const done = step + 1;
      if (done % o.logEvery === 0 || done === o.steps) {
        const now = performance.now();
        const m: LmStepMetrics = {
          step: done,
          loss,
          grad_norm: gradNorm,
          lr,
          tokens,
          tokens_per_s: (tokensSinceLog * 1000) / (now - tLog),
          elapsed_s: (now - t0) / 1000,
        };
        if (o.evaluate && o.evalEvery && (done % o.evalEvery === 0 || done === o.steps))
          Object.assign(m, await o.evaluate(model, done));
        run.appendMetrics(m);
        o.onLog?.(m);
        tokensSinceLog = 0;
        tLog = performance.now();
      }
      if (done % o.checkpointEvery === 0 || done === end) await run.checkpoint(done);
      return "next";
    });
    failed = false;
    return { model: run.model, lastLoss };
  } finally {
    run.close({ failed });
  }
}
