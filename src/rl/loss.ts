// The clipped policy-gradient loss (spec "Policy loss") on engine tensors. Built only from
// ops.ts ops, so it runs (and differentiates) on any backend. Aggregation is a weighted sum with
// constant per-token weights: every mode is Σ_t w_t L_t for the right w, which is exact.

import {
  add,
  affine,
  clamp,
  constant,
  exp,
  minimum,
  mul,
  neg,
  scale,
  square,
  sub,
  sum,
} from "../engine/ops.ts";
import type { Tensor } from "../engine/tensor.ts";

export type KlType = "k1" | "k2" | "k3";
export type Aggregation =
  | "token-mean"
  | "seq-mean-token-mean"
  | "seq-mean-token-sum"
  | "seq-mean-token-sum-norm";
export const AGGREGATIONS: readonly Aggregation[] = [
  "token-mean",
  "seq-mean-token-mean",
  "seq-mean-token-sum",
  "seq-mean-token-sum-norm",
];
export const KL_TYPES: readonly KlType[] = ["k1", "k2", "k3"];

/** Bound on log-ratios before exp (as verl does): keeps ρ and k3 finite for any input. */
export const LOG_RATIO_LIMIT = 20;

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

export interface PolicyLossOptions {
  clipLow?: number;
  clipHigh?: number;
  klCoef?: number;
  klType?: KlType;
  entropyCoef?: number;
  aggregation?: Aggregation;
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

/**
 * Per-token weights w with loss = Σ_t w_t L_t. S = number of sequences with a response token,
 * len_s = Σ mask over sequence s:
 * token-mean w = m/Σm; seq-mean-token-mean w = m/(len_s S); seq-mean-token-sum w = m/S;
 * seq-mean-token-sum-norm w = m/(maxLen S) (Dr.GRPO: a constant divisor, then mean over sequences).
 */
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
  const w = new Float64Array(N);
  if (len.size === 0) return w;
  if (aggregation === "seq-mean-token-sum-norm" && !(maxLen !== undefined && maxLen > 0))
    throw new Error(
      "policy loss: seq-mean-token-sum-norm needs maxLen > 0 (the constant max response length)",
    );
  for (let t = 0; t < N; t++) {
    const m = mask[t];
    if (m === 0) continue;
    switch (aggregation) {
      case "token-mean":
        w[t] = m / total;
        break;
      case "seq-mean-token-mean":
        w[t] = m / ((len.get(seqIndex[t]) as number) * S);
        break;
      case "seq-mean-token-sum":
        w[t] = m / S;
        break;
      case "seq-mean-token-sum-norm":
        w[t] = m / ((maxLen as number) * S);
        break;
      default:
        throw new Error(`unknown loss aggregation "${aggregation}"; valid: ${AGGREGATIONS.join(", ")}`);
    }
  }
  return w;
}

function checkLength(name: string, a: { length: number } | undefined, N: number): void {
  if (a && a.length !== N) throw new Error(`policy loss: ${name} has ${a.length} values for ${N} tokens`);
}

/** KL estimate per token from Δ = log π_θ − log π_ref (a tensor). */
function klTerm(delta: Tensor, type: KlType): Tensor {
  switch (type) {
    case "k1":
      return delta;
    case "k2":
      return scale(square(delta), 0.5);
    case "k3": {
      const d = clamp(delta, -LOG_RATIO_LIMIT, LOG_RATIO_LIMIT);
      return affine(add(exp(neg(d)), d), 1, -1);
    }
    default:
      throw new Error(`unknown KL estimator "${type}"; valid: ${KL_TYPES.join(", ")}`);
  }
}

function klValue(delta: number, type: KlType): number {
  if (type === "k1") return delta;
  if (type === "k2") return 0.5 * delta * delta;
  const d = Math.min(LOG_RATIO_LIMIT, Math.max(-LOG_RATIO_LIMIT, delta));
  return Math.exp(-d) + d - 1;
}

interface Resolved {
  clipLow: number;
  clipHigh: number;
  klCoef: number;
  klType: KlType;
  entropyCoef: number;
  aggregation: Aggregation;
}

function resolve(inputs: PolicyLossInputs, options: PolicyLossOptions): Resolved {
  const r: Resolved = {
    clipLow: options.clipLow ?? 0.2,
    clipHigh: options.clipHigh ?? 0.2,
    klCoef: options.klCoef ?? 0,
    klType: options.klType ?? "k3",
    entropyCoef: options.entropyCoef ?? 0,
    aggregation: options.aggregation ?? "token-mean",
  };
  if (!KL_TYPES.includes(r.klType))
    throw new Error(`unknown KL estimator "${r.klType}"; valid: ${KL_TYPES.join(", ")}`);
  if (!AGGREGATIONS.includes(r.aggregation))
    throw new Error(`unknown loss aggregation "${r.aggregation}"; valid: ${AGGREGATIONS.join(", ")}`);
  if (!(r.clipLow >= 0 && r.clipLow < 1) || !(r.clipHigh >= 0))
    throw new Error(
      `policy loss: clip range must satisfy 0 ≤ clipLow < 1, clipHigh ≥ 0 (got ${r.clipLow}, ${r.clipHigh})`,
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

function perTokenTensor(inputs: PolicyLossInputs, o: Resolved): Tensor {
  const { logp, oldLogp, refLogp, entropy, advantages } = inputs;
  const c = (v: ArrayLike<number>) => constant(v, [logp.size], logp);
  const A = c(advantages);
  const ratio = exp(clamp(sub(logp, c(oldLogp)), -LOG_RATIO_LIMIT, LOG_RATIO_LIMIT));
  const surr = minimum(mul(ratio, A), mul(clamp(ratio, 1 - o.clipLow, 1 + o.clipHigh), A));
  let L = neg(surr);
  if (o.klCoef !== 0 && refLogp) L = add(L, scale(klTerm(sub(logp, c(refLogp)), o.klType), o.klCoef));
  if (o.entropyCoef !== 0 && entropy) L = sub(L, scale(entropy, o.entropyCoef));
  return L;
}

/** The unaggregated loss L_t, shape [N] (masked tokens included: aggregation drops them). */
export function policyLossPerToken(inputs: PolicyLossInputs, options: PolicyLossOptions = {}): Tensor {
  return perTokenTensor(inputs, resolve(inputs, options));
}

/**
 * L_t = −min(ρA, clip(ρ, 1−ε_low, 1+ε_high)A) + β·KL_t − c_H·H_t, ρ = exp(logp − oldLogp),
 * aggregated to a scalar. Returns the loss tensor [1] (backward() it) and plain-number stats.
 * Intermediates stay alive for backward: wrap forward + backward in the caller's tidy().
 */
export function policyLoss(
  inputs: PolicyLossInputs,
  options: PolicyLossOptions = {},
): { loss: Tensor; stats: PolicyLossStats } {
  const o = resolve(inputs, options);
  const { logp, oldLogp, refLogp, entropy, advantages, mask, seqIndex } = inputs;
  const { clipLow, clipHigh, klType } = o;
  const N = logp.size;
  const w = aggregationWeights(mask, seqIndex, o.aggregation, options.maxLen, options.totals);
  const loss = sum(mul(perTokenTensor(inputs, o), constant(w, [N], logp)));

  // ---- statistics, in float64 from the values
  const lp = logp.readSync();
  const ent = entropy?.readSync();
  let pgLoss = 0;
  let kl = 0;
  let ents = 0;
  let low = 0;
  let high = 0;
  let ratioSum = 0;
  let ratioMax = 0;
  let tokens = 0;
  for (let t = 0; t < N; t++) {
    if (!(mask[t] > 0)) continue;
    tokens++;
    const d = Math.min(LOG_RATIO_LIMIT, Math.max(-LOG_RATIO_LIMIT, lp[t] - oldLogp[t]));
    const r = Math.exp(d);
    const a = advantages[t];
    const rc = Math.min(1 + clipHigh, Math.max(1 - clipLow, r));
    pgLoss -= w[t] * Math.min(r * a, rc * a);
    if (r < 1 - clipLow && a < 0) low++;
    if (r > 1 + clipHigh && a > 0) high++;
    ratioSum += r;
    ratioMax = Math.max(ratioMax, r);
    if (refLogp) kl += klValue(lp[t] - refLogp[t], klType);
    if (ent) ents += ent[t];
  }
  const per = (x: number) => (tokens ? x / tokens : 0);
  const stats: PolicyLossStats = {
    pgLoss,
    klMean: per(kl),
    entropyMean: per(ents),
    clipFrac: per(low + high),
    clipFracLow: per(low),
    clipFracHigh: per(high),
    ratioMean: per(ratioSum),
    ratioMax,
    tokens,
  };
  return { loss, stats };
}
