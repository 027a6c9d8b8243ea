// The clipped policy-gradient loss (spec "Policy loss") on engine tensors. Built only from
// ops.ts ops, so it runs (and differentiates) on any backend. Aggregation is a weighted sum with
// constant per-token weights: every mode is Σ_t w_t L_t for the right w, which is exact. The
// policy-gradient term itself (PPO's clip, dual clip, GSPO, Clip-Cov, KL-Cov) is chosen by name
// from surrogates.ts.

import { add, affine, clamp, constant, exp, mul, neg, scale, square, sub, sum } from "../engine/ops.ts";
import type { Tensor } from "../engine/tensor.ts";
import { Registry } from "../util/registry.ts";
import { meanCovariance, tokenCovariance } from "./covariance.ts";
import { LOG_RATIO_LIMIT, policyLosses, type SurrogateOptions, type SurrogateStats } from "./surrogates.ts";

export { LOG_RATIO_LIMIT };

/** A KL estimator (spec "KL"): per-token estimate of KL(π_θ ‖ π_ref) from Δ = log π_θ − log π_ref,
 *  once on tensors (the loss) and once on numbers (the logged statistic). */
export interface KlEstimator {
  tensor(delta: Tensor): Tensor;
  value(delta: number): number;
}

/** A loss aggregation: the weight of a response token with mask m in sequence s, given
 *  len_s = Σ mask over s, total = Σ mask, S = sequences with a response token. */
export type AggregationWeight = (m: number, c: AggregationCounts) => number;

export interface AggregationCounts {
  len: number;
  total: number;
  S: number;
  maxLen: number;
}

const KL_ESTIMATORS = {
  k1: { tensor: (d) => d, value: (d) => d },
  k2: { tensor: (d) => scale(square(d), 0.5), value: (d) => 0.5 * d * d },
  k3: {
    tensor: (delta) => {
      const d = clamp(delta, -LOG_RATIO_LIMIT, LOG_RATIO_LIMIT);
      return affine(add(exp(neg(d)), d), 1, -1);
    },
    value: (delta) => {
      const d = Math.min(LOG_RATIO_LIMIT, Math.max(-LOG_RATIO_LIMIT, delta));
      return Math.exp(-d) + d - 1;
    },
  },
} satisfies Record<string, KlEstimator>;

/**
 * Per-token weights w with loss = Σ_t w_t L_t (seq-mean-token-sum-norm is Dr.GRPO: a constant
 * divisor, then the mean over sequences).
 */
const AGGREGATIONS_BY_NAME = {
  "token-mean": (m, c) => m / c.total,
  "seq-mean-token-mean": (m, c) => m / (c.len * c.S),
  "seq-mean-token-sum": (m, c) => m / c.S,
  "seq-mean-token-sum-norm": (m, c) => m / (c.maxLen * c.S),
} satisfies Record<string, AggregationWeight>;

/** A name in `klEstimators` (the built-ins autocomplete). */
export type KlType = keyof typeof KL_ESTIMATORS | (string & {});
/** A name in `aggregations`. */
export type Aggregation = keyof typeof AGGREGATIONS_BY_NAME | (string & {});

/** The registries, by name (as verl's core_algos): the config's enums are their keys. */
export const klEstimators = new Registry<KlEstimator>("KL estimator", KL_ESTIMATORS);
export const aggregations = new Registry<AggregationWeight>("loss aggregation", AGGREGATIONS_BY_NAME);

export interface PolicyLossInputs {
  /** [N] log π_θ of the response tokens under the current policy (requires grad). */
  logp: Tensor;
  /** [N] log π_old, from the policy that sampled. */
  oldLogp: ArrayLike<number>;
  /** [N] log π_ref of the frozen reference (needed when klCoef ≠ 0). */
  refLogp?: ArrayLike<number>;
  /** [N] entropy H_t of π_θ (differentiable; tokenStats column 1), for the entropy bonus. */
  entropy?: Tensor;
  /** [N] advantage of the token's sequence. */
  advantages: ArrayLike<number>;
  /** [N] 1 on response tokens, 0 elsewhere. */
  mask: ArrayLike<number>;
  /** [N] which sequence each token belongs to. */
  seqIndex: Int32Array;
}

/** The surrogate's own options (clip range, dual clip, Clip-Cov / KL-Cov settings) and the rest. */
export interface PolicyLossOptions extends Partial<SurrogateOptions> {
  klCoef?: number;
  klType?: KlType;
  entropyCoef?: number;
  aggregation?: Aggregation;
  /** The policy-gradient surrogate, a name in `policyLosses` (default vanilla: PPO's clip). */
  policyLoss?: string;
  /** Constant length divisor of `seq-mean-token-sum-norm` (the max response length). */
  maxLen?: number;
  /**
   * Denominators of the whole mini-batch when it is run as several micro-batches (gradient
   * accumulation): the micro-batch losses then add up to the mini-batch loss exactly. Each
   * sequence must lie wholly in one micro-batch. Default: this call's own counts.
   */
  totals?: BatchTotals;
}

/** Response tokens (Σ mask) and sequences with a response token, over a whole mini-batch. */
export interface BatchTotals {
  tokens: number;
  sequences: number;
}

export interface PolicyLossStats {
  /** The clipped surrogate part of the loss, aggregated like the loss. */
  pgLoss: number;
  /** Token-mean of the KL estimate (0 without a reference). */
  klMean: number;
  /** Token-mean of H_t (0 without entropy). */
  entropyMean: number;
  /** Fraction of response tokens whose gradient the clip removed (low + high). */
  clipFrac: number;
  /** ρ < 1 − ε_low with A < 0. */
  clipFracLow: number;
  /** ρ > 1 + ε_high with A > 0. */
  clipFracHigh: number;
  /** A < 0 tokens whose loss the dual clip bounded. */
  clipFracDual: number;
  /** Tokens Clip-Cov detached or KL-Cov penalised. */
  covSelectedFrac: number;
  /** Token mean of (A − Ā)(log π_θ − mean log π_θ): under a policy-gradient step entropy falls
   *  by about this much times the step size (Cui et al. 2025). */
  entropyCov: number;
  ratioMean: number;
  ratioMax: number;
  /** Number of response tokens (mask > 0). */
  tokens: number;
}

/** Token and sequence counts of a batch, for `totals` when it is split into micro-batches. */
export function batchTotals(mask: ArrayLike<number>, seqIndex: Int32Array): BatchTotals {
  let tokens = 0;
  const seqs = new Set<number>();
  for (let t = 0; t < mask.length; t++)
    if (mask[t] > 0) {
      tokens += mask[t];
      seqs.add(seqIndex[t]);
    }
  return { tokens, sequences: seqs.size };
}

/** Per-token weights w with loss = Σ_t w_t L_t under the named aggregation. */
export function aggregationWeights(
  mask: ArrayLike<number>,
  seqIndex: Int32Array,
  aggregation: Aggregation,
  maxLen?: number,
  totals?: BatchTotals,
): Float64Array {
  const N = mask.length;
  if (seqIndex.length !== N)
    throw new Error(`policy loss: ${seqIndex.length} sequence indices for ${N} tokens`);
  const len = new Map<number, number>();
  let total = 0;
  for (let t = 0; t < N; t++) {
    const m = mask[t];
    if (!(m >= 0) || !Number.isFinite(m)) throw new Error(`policy loss: mask[${t}] = ${m}, expected ≥ 0`);
    if (m > 0) {
      len.set(seqIndex[t], (len.get(seqIndex[t]) ?? 0) + m);
      total += m;
    }
  }
  if (totals) {
    if (!(totals.tokens >= total && totals.sequences >= len.size))
      throw new Error(
        `policy loss: totals (${totals.tokens} tokens, ${totals.sequences} sequences) are smaller than this batch's`,
      );
    total = totals.tokens;
  }
  const S = totals?.sequences ?? len.size;
  const weight = aggregations.get(aggregation);
  const w = new Float64Array(N);
  if (len.size === 0) return w;
  if (aggregation === "seq-mean-token-sum-norm" && !(maxLen !== undefined && maxLen > 0))
    throw new Error(
      "policy loss: seq-mean-token-sum-norm needs maxLen > 0 (the constant max response length)",
    );
  const counts: AggregationCounts = { len: 0, total, S, maxLen: maxLen ?? Number.NaN };
  for (let t = 0; t < N; t++) {
    const m = mask[t];
    if (m === 0) continue;
    counts.len = len.get(seqIndex[t]) as number;
    w[t] = weight(m, counts);
  }
  return w;
}

function checkLength(name: string, a: { length: number } | undefined, N: number): void {
  if (a && a.length !== N) throw new Error(`policy loss: ${name} has ${a.length} values for ${N} tokens`);
}

interface Resolved {
  klCoef: number;
  klType: KlType;
  entropyCoef: number;
  aggregation: Aggregation;
  policyLoss: string;
  surrogate: SurrogateOptions;
}

function resolve(inputs: PolicyLossInputs, options: PolicyLossOptions): Resolved {
  const r: Resolved = {
    klCoef: options.klCoef ?? 0,
    klType: options.klType ?? "k3",
    entropyCoef: options.entropyCoef ?? 0,
    aggregation: options.aggregation ?? "token-mean",
    policyLoss: options.policyLoss ?? "vanilla",
    // the surrogate reads its own fields (clip range, dual clip, Clip-Cov / KL-Cov settings)
    surrogate: { ...options, clipLow: options.clipLow ?? 0.2, clipHigh: options.clipHigh ?? 0.2 },
  };
  klEstimators.get(r.klType); // unknown names fail here, listing the valid ones
  aggregations.get(r.aggregation);
  policyLosses.get(r.policyLoss);
  if (r.surrogate.clipRatioC !== undefined && r.policyLoss !== "vanilla")
    throw new Error(`policy loss: the dual clip (clipRatioC) applies to vanilla only, not ${r.policyLoss}`);
  const { clipLow, clipHigh } = r.surrogate;
  if (!(clipLow >= 0 && clipLow < 1) || !(clipHigh >= 0))
    throw new Error(
      `policy loss: clip range must satisfy 0 ≤ clipLow < 1, clipHigh ≥ 0 (got ${clipLow}, ${clipHigh})`,
    );
  const { logp, oldLogp, refLogp, entropy, advantages, mask } = inputs;
  if (logp.shape.length !== 1) throw new Error(`policy loss: logp must be [N], got [${logp.shape}]`);
  const N = logp.size;
  checkLength("oldLogp", oldLogp, N);
  checkLength("refLogp", refLogp, N);
  checkLength("advantages", advantages, N);
  checkLength("mask", mask, N);
  checkLength("entropy", entropy ? { length: entropy.size } : undefined, N);
  if (r.klCoef !== 0 && !refLogp) throw new Error("policy loss: klCoef ≠ 0 needs refLogp");
  if (r.entropyCoef !== 0 && !entropy) throw new Error("policy loss: entropyCoef ≠ 0 needs entropy");
  return r;
}

/** L_t (the surrogate's, plus the KL and entropy terms) and the surrogate's own part. */
function perTokenTensor(
  inputs: PolicyLossInputs,
  o: Resolved,
): { L: Tensor; pg: Tensor; surrogate: SurrogateStats } {
  const { logp, refLogp, entropy } = inputs;
  const { loss: pg, stats: surrogate } = policyLosses.get(o.policyLoss)(inputs, o.surrogate);
  let L = pg;
  if (o.klCoef !== 0 && refLogp)
    L = add(
      L,
      scale(klEstimators.get(o.klType).tensor(sub(logp, constant(refLogp, [logp.size], logp))), o.klCoef),
    );
  if (o.entropyCoef !== 0 && entropy) L = sub(L, scale(entropy, o.entropyCoef));
  return { L, pg, surrogate };
}

/** The unaggregated loss L_t, shape [N] (masked tokens included: aggregation drops them). */
export function policyLossPerToken(inputs: PolicyLossInputs, options: PolicyLossOptions = {}): Tensor {
  return perTokenTensor(inputs, resolve(inputs, options)).L;
}

/**
 * L_t = surrogate_t + β·KL_t − c_H·H_t (vanilla: surrogate_t = −min(ρA, clip(ρ, 1−ε_low, 1+ε_high)A),
 * ρ = exp(logp − oldLogp)), aggregated to a scalar. Returns the loss tensor [1] (backward() it)
 * and plain-number stats. Intermediates stay alive for backward: wrap forward + backward in the
 * caller's tidy().
 */
export function policyLoss(
  inputs: PolicyLossInputs,
  options: PolicyLossOptions = {},
): { loss: Tensor; stats: PolicyLossStats } {
  const parts = policyLossParts(inputs, options);
  return { loss: parts.loss, stats: parts.stats() };
}

/** policyLoss in two parts: the loss tensor with its per-token policy-gradient term `pg`, and
 *  stats(), which reads logp, pg and entropy synchronously (on WebGPU, fetchToHost them first). */
export function policyLossParts(
  inputs: PolicyLossInputs,
  options: PolicyLossOptions = {},
): { loss: Tensor; pg: Tensor; stats: () => PolicyLossStats } {
  const o = resolve(inputs, options);
  const { logp, refLogp, entropy, advantages, mask, seqIndex } = inputs;
  const klValue = klEstimators.get(o.klType).value;
  const N = logp.size;
  const w = aggregationWeights(mask, seqIndex, o.aggregation, options.maxLen, options.totals);
  const { L, pg, surrogate: s } = perTokenTensor(inputs, o);
  const loss = sum(mul(L, constant(w, [N], logp)));
  return { loss, pg, stats: () => lossStats() };

  // ---- statistics, in float64 from the values
  function lossStats(): PolicyLossStats {
    const lp = logp.readSync();
    const pgValues = pg.readSync();
    const ent = entropy?.readSync();
    let pgLoss = 0;
    let kl = 0;
    let ents = 0;
    let ratioSum = 0;
    let ratioMax = 0;
    let tokens = 0;
    for (let t = 0; t < N; t++) {
      if (!(mask[t] > 0)) continue;
      tokens++;
      pgLoss += w[t] * pgValues[t];
      ratioSum += s.ratio[t];
      ratioMax = Math.max(ratioMax, s.ratio[t]);
      if (refLogp) kl += klValue(lp[t] - refLogp[t]);
      if (ent) ents += ent[t];
    }
    const per = (x: number) => (tokens ? x / tokens : 0);
    const stats: PolicyLossStats = {
      pgLoss,
      klMean: per(kl),
      entropyMean: per(ents),
      clipFrac: per(s.clippedLow + s.clippedHigh),
      clipFracLow: per(s.clippedLow),
      clipFracHigh: per(s.clippedHigh),
      clipFracDual: per(s.clippedDual),
      covSelectedFrac: per(s.covSelected),
      entropyCov: meanCovariance(tokenCovariance(advantages, lp, mask), mask),
      ratioMean: per(ratioSum),
      ratioMax,
      tokens,
    };
    return stats;
  }
}
