// Policy-gradient surrogates, one function per method, chosen by name (`algo.policy_loss`):
// each returns the per-token loss L_t (before the KL and entropy terms and before aggregation)
// on engine tensors, plus what it clipped or selected, counted in float64 from the values.
// ρ_t = π_θ/π_old per token; A_t the advantage of the token's sequence.

import { abs, add, clamp, constant, exp, minimum, mul, neg, scale, sub } from "../engine/ops.ts";
import type { Tensor } from "../engine/tensor.ts";
import { Registry } from "../util/registry.ts";
import { clipCovSelect, klCovSelect, tokenCovariance } from "./covariance.ts";

/** Bound on log-ratios before exp (as verl does): keeps ρ finite for any input. */
export const LOG_RATIO_LIMIT = 20;

export interface SurrogateInputs {
  /** [N] log π_θ (requires grad). */
  logp: Tensor;
  /** [N] log π_old, from the policy that sampled. */
  oldLogp: ArrayLike<number>;
  /** [N] advantage of the token's sequence. */
  advantages: ArrayLike<number>;
  /** [N] 1 on response tokens, 0 elsewhere. */
  mask: ArrayLike<number>;
  /** [N] which sequence each token belongs to. */
  seqIndex: Int32Array;
}

export interface SurrogateOptions {
  /** ε_low, ε_high of the PPO clip. */
  clipLow: number;
  clipHigh: number;
  /** Dual-clip bound c > 1 (vanilla only): for A < 0 the loss is at most −A·c. Off when absent. */
  clipRatioC?: number;
  /** Clip-Cov / KL-Cov: the fraction of response tokens selected (verl's default 2e-4). */
  covRatio?: number;
  /** Clip-Cov: the covariance band (lb, ub) that candidates must lie in (verl: 1, 5). */
  covLb?: number;
  covUb?: number;
  /** KL-Cov: the weight of |log π_θ − log π_old| on the selected tokens (verl: 1). */
  klCovCoef?: number;
  /** Clip-Cov's draw among candidates: uniform in [0, 1). */
  random?: () => number;
}

/** Counts over the response tokens (mask > 0), and each token's ratio. */
export interface SurrogateStats {
  /** ρ < 1 − ε_low with A < 0 (the clip removed the gradient). */
  clippedLow: number;
  /** ρ > 1 + ε_high with A > 0. */
  clippedHigh: number;
  /** A < 0 tokens whose loss the dual clip bounded by −A·c. */
  clippedDual: number;
  /** Tokens Clip-Cov detached or KL-Cov penalised. */
  covSelected: number;
  /** [N] the ratio the surrogate used (the sequence ratio for GSPO). */
  ratio: Float64Array;
}

export type Surrogate = (
  inputs: SurrogateInputs,
  options: SurrogateOptions,
) => { loss: Tensor; stats: SurrogateStats };

const bounded = (x: number) => Math.min(LOG_RATIO_LIMIT, Math.max(-LOG_RATIO_LIMIT, x));

/** −min(ρA, clip(ρ, 1−ε_low, 1+ε_high)A) as a tensor, for ratio tensor `ratio`. */
function clippedTensor(ratio: Tensor, A: Tensor, o: SurrogateOptions): Tensor {
  return neg(minimum(mul(ratio, A), mul(clamp(ratio, 1 - o.clipLow, 1 + o.clipHigh), A)));
}

/** Counts of the PPO clip for per-token ratios r (float64). */
function clipCounts(r: Float64Array, inputs: SurrogateInputs, o: SurrogateOptions): SurrogateStats {
  const { advantages: adv, mask } = inputs;
  const s: SurrogateStats = { clippedLow: 0, clippedHigh: 0, clippedDual: 0, covSelected: 0, ratio: r };
  for (let t = 0; t < r.length; t++) {
    if (!(mask[t] > 0)) continue;
    if (r[t] < 1 - o.clipLow && adv[t] < 0) s.clippedLow++;
    if (r[t] > 1 + o.clipHigh && adv[t] > 0) s.clippedHigh++;
  }
  return s;
}

/** Per-token ratios exp(clamp(log π_θ − log π_old)) in float64. */
function tokenRatios(lp: ArrayLike<number>, oldLogp: ArrayLike<number>): Float64Array {
  return Float64Array.from({ length: lp.length }, (_, t) => Math.exp(bounded(lp[t] - oldLogp[t])));
}

function ratioTensor(inputs: SurrogateInputs): Tensor {
  const { logp, oldLogp } = inputs;
  return exp(clamp(sub(logp, constant(oldLogp, [logp.size], logp)), -LOG_RATIO_LIMIT, LOG_RATIO_LIMIT));
}

/**
 * PPO's clipped surrogate, L_t = −min(ρA, clip(ρ, 1−ε_low, 1+ε_high)A); with dual clip (Ye et
 * al. 2020; verl's clip_ratio_c) L_t = min(L_t, −A·c) where A < 0, so a huge ratio on a
 * negative-advantage token cannot blow the loss up.
 */
export const vanilla: Surrogate = (inputs, o) => {
  const { logp, oldLogp, advantages: adv } = inputs;
  const N = logp.size;
  const A = constant(adv, [N], logp);
  let loss = clippedTensor(ratioTensor(inputs), A, o);
  const stats = clipCounts(tokenRatios(logp.readSync(), oldLogp), inputs, o);
  const c = o.clipRatioC;
  if (c !== undefined) {
    if (!(c > 1)) throw new Error(`dual clip: clip_ratio_c must be > 1, got ${c}`);
    const negA = Float64Array.from(adv, (a) => (a < 0 ? 1 : 0));
    const bound = Float64Array.from(adv, (a) => -a * c);
    const dual = minimum(loss, constant(bound, [N], logp));
    loss = add(
      mul(
        loss,
        constant(
          negA.map((x) => 1 - x),
          [N],
          logp,
        ),
      ),
      mul(dual, constant(negA, [N], logp)),
    );
    const r = stats.ratio;
    for (let t = 0; t < N; t++) {
      if (!(inputs.mask[t] > 0) || !(adv[t] < 0)) continue;
      const rc = Math.min(1 + o.clipHigh, Math.max(1 - o.clipLow, r[t]));
      if (Math.max(-adv[t] * r[t], -adv[t] * rc) > bound[t]) stats.clippedDual++;
    }
  }
  return { loss, stats };
};

/**
 * The importance-weighted policy gradient without any clip, L_t = −ρA: the "clipping off" arm of
 * the random-reward control (Shao et al. 2025 trace spurious-reward gains to the clip's bias).
 */
export const unclipped: Surrogate = (inputs) => {
  const { logp, oldLogp, advantages: adv } = inputs;
  const loss = neg(mul(ratioTensor(inputs), constant(adv, [logp.size], logp)));
  const ratio = tokenRatios(logp.readSync(), oldLogp);
  return { loss, stats: { clippedLow: 0, clippedHigh: 0, clippedDual: 0, covSelected: 0, ratio } };
};

/**
 * GSPO (Zheng et al. 2025): one importance ratio per sequence, the geometric mean
 * s_i = exp((1/|y_i|) Σ_t (log π_θ − log π_old)), clipped like PPO's. Per token its value is s_i
 * and its gradient s_i ∇log π_θ(y_t) (GSPO-token with a sequence-level advantage), so with
 * seq-mean-token-mean aggregation the gradient is exactly GSPO's.
 */
export const gspo: Surrogate = (inputs, o) => {
  const { logp, oldLogp, advantages: adv, mask, seqIndex } = inputs;
  const N = logp.size;
  const lp = logp.readSync();
  const num = new Map<number, number>();
  const den = new Map<number, number>();
  for (let t = 0; t < N; t++)
    if (mask[t] > 0) {
      num.set(seqIndex[t], (num.get(seqIndex[t]) ?? 0) + mask[t] * (lp[t] - oldLogp[t]));
      den.set(seqIndex[t], (den.get(seqIndex[t]) ?? 0) + mask[t]);
    }
  const seqLogRatio = Float64Array.from(seqIndex, (s) =>
    den.has(s) ? (num.get(s) as number) / (den.get(s) as number) : 0,
  );
  // log s_i,t = log π_θ(y_t) − sg[log π_θ(y_t)] + sg[log s_i]
  const logRatio = add(sub(logp, constant(lp, [N], logp)), constant(seqLogRatio, [N], logp));
  const ratio = exp(clamp(logRatio, -LOG_RATIO_LIMIT, LOG_RATIO_LIMIT));
  const loss = clippedTensor(ratio, constant(adv, [N], logp), o);
  return {
    loss,
    stats: clipCounts(
      seqLogRatio.map((x) => Math.exp(bounded(x))),
      inputs,
      o,
    ),
  };
};

/**
 * Clip-Cov: PPO's clipped surrogate, except that a few tokens of high covariance
 * (A − Ā)(log π − mean log π), drawn at random from those in the band (lb, ub) that the PPO clip
 * left alone, lose their gradient (L_t = 0 there), as in verl's compute_policy_loss_clip_cov.
 */
export const clipCov: Surrogate = (inputs, o) => {
  const { logp, oldLogp, advantages: adv, mask } = inputs;
  const N = logp.size;
  if (!o.random) throw new Error("clip-cov needs a random source");
  const A = constant(adv, [N], logp);
  const lp = logp.readSync();
  const stats = clipCounts(tokenRatios(lp, oldLogp), inputs, o);
  const r = stats.ratio;
  // "clipped by origin": the clipped term is the larger loss, so PPO already took the gradient away
  const clipped = Array.from({ length: N }, (_, t) => {
    const rc = Math.min(1 + o.clipHigh, Math.max(1 - o.clipLow, r[t]));
    return -adv[t] * rc > -adv[t] * r[t];
  });
  const selected = clipCovSelect(
    tokenCovariance(adv, lp, mask),
    mask,
    clipped,
    { ratio: o.covRatio ?? 2e-4, lb: o.covLb ?? 1, ub: o.covUb ?? 5 },
    o.random,
  );
  const keep = new Float64Array(N).fill(1);
  for (const t of selected) keep[t] = 0;
  stats.covSelected = selected.length;
  return { loss: mul(clippedTensor(ratioTensor(inputs), A, o), constant(keep, [N], logp)), stats };
};

/** Log-prob differences below this are rounding between the sampler and the training forward. */
export const ON_POLICY_TOL = 1e-5;

/**
 * KL-Cov: the unclipped surrogate −ρA, plus k·|log π_θ − log π_old| on the tokens of largest
 * covariance (A − Ā)(log π − mean log π), as in verl's compute_policy_loss_kl_cov.
 */
export const klCov: Surrogate = (inputs, o) => {
  const { logp, oldLogp, advantages: adv, mask } = inputs;
  const N = logp.size;
  const lp = logp.readSync();
  const selected = klCovSelect(tokenCovariance(adv, lp, mask), mask, o.covRatio ?? 2e-4);
  // π_old comes from the sampler's float64 statistics, π_θ from the training forward, so on policy
  // they differ by rounding (~1e-7) where verl's are equal; |x| would then push each selected
  // token by ±k in a random direction. Differences below ON_POLICY_TOL count as on policy (no penalty).
  const on = new Float64Array(N);
  for (const t of selected) if (Math.abs(lp[t]! - inputs.oldLogp[t]!) > ON_POLICY_TOL) on[t] = 1;
  const penalty = mul(abs(sub(logp, constant(oldLogp, [N], logp))), constant(on, [N], logp));
  const loss = add(neg(mul(ratioTensor(inputs), constant(adv, [N], logp))), scale(penalty, o.klCovCoef ?? 1));
  const ratio = tokenRatios(lp, oldLogp);
  return {
    loss,
    stats: { clippedLow: 0, clippedHigh: 0, clippedDual: 0, covSelected: selected.length, ratio },
  };
};

/** The policy-gradient surrogates by name; `algo.policy_loss` in the config takes these names. */
export const policyLosses = new Registry<Surrogate>("policy loss", {
  vanilla,
  unclipped,
  gspo,
  "clip-cov": clipCov,
  "kl-cov": klCov,
});
