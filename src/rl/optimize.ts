// Stage 3 of an RL step, optimize: epochs × mini-batches of clipped policy-gradient updates on
// the step's rollouts and advantages.

import { type AdamW, clipGradNormAsync, learningRate, type ScheduleOptions } from "../engine/optim.ts";
import { Random } from "../engine/random.ts";
import { backward, tidyAsync } from "../engine/tensor.ts";
import { frozenLogprobs, sequenceLogprobs } from "../model/logprobs.ts";
import type { Transformer } from "../model/transformer.ts";
import { NonFiniteError } from "../train/run.ts";
import { perToken } from "./advantages.ts";
import type { TrainConfig } from "./config.ts";
import { policyLossParts } from "./loss.ts";
import { truncationWeights } from "./overlong.ts";
import { withReference } from "./reference.ts";
import { packRollouts, type Rollout, stepSeed } from "./rollout.ts";

/** The trained policy, its optimizer and the frozen reference (null without a KL term). */
export interface Policy {
  model: Transformer;
  opt: AdamW;
  ref: Transformer | null;
}

export interface OptimizeSettings {
  algo: TrainConfig["algo"];
  /** The sampling temperature: log-probabilities are those of the distribution sampled from. */
  temperature: number;
  gradClip: number;
  /** Constant length divisor of seq-mean-token-sum-norm (the max response length). */
  maxLen: number;
  pad: number;
  schedule: ScheduleOptions;
  seed: number;
}

export interface UpdateStats {
  loss: number;
  pg_loss: number;
  kl: number;
  entropy_bonus_term: number;
  clip_frac: number;
  clip_frac_low: number;
  clip_frac_high: number;
  clip_frac_dual: number;
  cov_selected_frac: number;
  entropy_cov: number;
  ratio_mean: number;
  ratio_max: number;
  grad_norm: number;
}

export interface Optimized {
  lr: number;
  /** One per optimizer update, in order. */
  updates: UpdateStats[];
  /** Prompt + response tokens through the forward/backward passes. */
  trainTokens: number;
}

/** One optimizer update: a mini-batch of rollouts with their per-sequence advantages. */
export interface Update {
  policy: Policy;
  batch: Rollout[];
  advantages: Float64Array;
  lr: number;
  settings: OptimizeSettings;
  /** Clip-Cov's draw among its candidate tokens: uniform in [0, 1). */
  random: () => number;
}

/** One optimizer update; NonFiniteError (before the update) on a NaN/Inf loss or gradient. */
export async function update({
  policy,
  batch,
  advantages,
  lr,
  settings: s,
  random,
}: Update): Promise<UpdateStats> {
  const { model, opt, ref } = policy;
  const { algo } = s;
  const p = packRollouts(batch, s.pad);
  if (algo.mask_truncated) {
    // DAPO's overlong filtering: a response cut at the length limit takes no part in the loss
    const w = truncationWeights(batch.map((r) => r.truncated));
    for (let t = 0; t < p.mask.length; t++) p.mask[t] *= w[p.seqIndex[t]];
  }
  const N = p.B * p.T;
  // The reference's log-probs: computed once per step by optimize() (else here, for a lone update).
  const refLogp =
    ref && algo.kl_coef > 0 && !algo.kl_in_reward
      ? (p.refLogp ?? (await frozenLogprobs(ref, p, s.temperature)))
      : undefined;
  return tidyAsync(async () => {
    opt.zeroGrad();
    const { logp, entropy } = sequenceLogprobs(model, p, s.temperature);
    // The loss's statistics (and some surrogates) read logp/entropy: one read each, off the GPU.
    await logp.fetchToHost();
    if (algo.entropy_coef !== 0) await entropy.fetchToHost();
    const {
      loss,
      pg,
      stats: lossStats,
    } = policyLossParts(
      {
        logp,
        oldLogp: p.oldLogp,
        refLogp,
        entropy: algo.entropy_coef !== 0 ? entropy : undefined,
        advantages: perToken(advantages, p.seqIndex),
        mask: p.mask,
        seqIndex: p.seqIndex,
      },
      {
        clipLow: algo.clip_low,
        clipHigh: algo.clip_high,
        klCoef: refLogp ? algo.kl_coef : 0,
        klType: algo.kl_type,
        entropyCoef: algo.entropy_coef,
        aggregation: algo.aggregation,
        maxLen: s.maxLen,
        policyLoss: algo.policy_loss,
        clipRatioC: algo.clip_ratio_c > 0 ? algo.clip_ratio_c : undefined,
        covRatio: algo.cov_ratio,
        covLb: algo.cov_lb,
        covUb: algo.cov_ub,
        klCovCoef: algo.kl_cov_coef,
        random,
      },
    );
    await pg.fetchToHost();
    const stats = lossStats();
    const lossValue = (await loss.read())[0];
    backward(loss);
    const gradNorm = await clipGradNormAsync(model.parameters().values(), s.gradClip);
    if (!Number.isFinite(lossValue) || !Number.isFinite(gradNorm))
      throw new NonFiniteError(`loss ${lossValue}, gradient norm ${gradNorm} (${N} positions)`);
    opt.update(lr);
    return {
      loss: lossValue,
      pg_loss: stats.pgLoss,
      kl: stats.klMean,
      entropy_bonus_term: stats.entropyMean,
      clip_frac: stats.clipFrac,
      clip_frac_low: stats.clipFracLow,
      clip_frac_high: stats.clipFracHigh,
      clip_frac_dual: stats.clipFracDual,
      cov_selected_frac: stats.covSelectedFrac,
      entropy_cov: stats.entropyCov,
      ratio_mean: stats.ratioMean,
      ratio_max: stats.ratioMax,
      grad_norm: gradNorm,
    };
  });
}

/** The optimize stage: epochs × mini-batches over the step's rollouts. */
export async function optimize(
  policy: Policy,
  rollouts: Rollout[],
  advantages: Float64Array,
  s: OptimizeSettings,
  step: number,
): Promise<Optimized> {
  const { algo } = s;
  const lr = learningRate(step, s.schedule);
  // A KL term in the loss: the reference scores the step's rollouts once, for every update.
  if (policy.ref && algo.kl_coef > 0 && !algo.kl_in_reward)
    await withReference(policy.ref, rollouts, s.temperature, s.pad);
  const mbSize = Math.ceil(rollouts.length / algo.mini_batches);
  const updates: UpdateStats[] = [];
  let trainTokens = 0;
  for (let e = 0; e < algo.epochs; e++) {
    // The first pass of a single mini-batch keeps rollout order; later ones are shuffled.
    const order =
      e > 0 || algo.mini_batches > 1
        ? new Random(stepSeed(s.seed, step, 100 + e)).permutation(rollouts.length)
        : Array.from({ length: rollouts.length }, (_, i) => i);
    for (let m = 0; m < rollouts.length; m += mbSize) {
      const idx = order.slice(m, m + mbSize);
      const batch = idx.map((i) => rollouts[i]);
      trainTokens += batch.reduce((a, r) => a + r.promptIds.length + r.responseIds.length, 0);
      const mbAdvantages = Float64Array.from(idx.map((i) => advantages[i]));
      const rng = new Random(stepSeed(s.seed, step, 300 + updates.length));
      const random = () => rng.next();
      updates.push(await update({ policy, batch, advantages: mbAdvantages, lr, settings: s, random }));
    }
  }
  return { lr, updates, trainTokens };
}
