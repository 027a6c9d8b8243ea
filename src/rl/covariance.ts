// Token covariance between log-probability and advantage, and the token selections of Clip-Cov
// and KL-Cov (Cui et al. 2025, "The Entropy Mechanism of Reinforcement Learning for Reasoning
// Language Models"). Under a policy-gradient step the policy's entropy changes by about
// −Cov(log π(y_t), A_t): tokens that are both likely and advantaged drive entropy collapse, so
// Clip-Cov stops the gradient of a few of them and KL-Cov pulls a few of them back to π_old.
// Plain float64 arrays over the packed tokens; the losses that use them are in surrogates.ts.

/**
 * Per token, (A_t − Ā)(log π_t − mean log π) with both means over the response tokens
 * (mask > 0); NaN on the other tokens. Their mean is the batch covariance logged as entropy_cov.
 */
export function tokenCovariance(
  advantages: ArrayLike<number>,
  logp: ArrayLike<number>,
  mask: ArrayLike<number>,
): Float64Array {
  const N = mask.length;
  if (advantages.length !== N || logp.length !== N)
    throw new Error(
      `covariance: ${advantages.length} advantages, ${logp.length} log-probs, ${N} mask values`,
    );
  let n = 0;
  let ma = 0;
  let ml = 0;
  for (let t = 0; t < N; t++)
    if (mask[t] > 0) {
      n++;
      ma += advantages[t];
      ml += logp[t];
    }
  const cov = new Float64Array(N).fill(Number.NaN);
  if (n === 0) return cov;
  ma /= n;
  ml /= n;
  for (let t = 0; t < N; t++) if (mask[t] > 0) cov[t] = (advantages[t] - ma) * (logp[t] - ml);
  return cov;
}

/** Mean of the per-token covariance over the response tokens (0 without any). */
export function meanCovariance(cov: Float64Array, mask: ArrayLike<number>): number {
  let s = 0;
  let n = 0;
  for (let t = 0; t < cov.length; t++)
    if (mask[t] > 0) {
      s += cov[t];
      n++;
    }
  return n ? s / n : 0;
}

/** How many tokens a covariance method selects: max(1, ⌊ratio · Σ mask⌋), as verl does. */
export function selectionCount(mask: ArrayLike<number>, ratio: number): number {
  if (!(ratio > 0 && ratio <= 1))
    throw new Error(`covariance selection: ratio must be in (0, 1], got ${ratio}`);
  let total = 0;
  for (let t = 0; t < mask.length; t++) total += mask[t];
  return Math.max(1, Math.floor(ratio * total));
}

/**
 * Clip-Cov: the tokens whose gradient is detached. Candidates are response tokens the PPO clip
 * did not already clip (`clipped[t]` false) with lb < cov_t < ub; `selectionCount` of them (or all,
 * if fewer) are drawn uniformly without replacement from `random` (uniform in [0, 1)).
 * Returns the selected token indices, ascending.
 */
export function clipCovSelect(
  cov: Float64Array,
  mask: ArrayLike<number>,
  clipped: ArrayLike<boolean | number>,
  options: { ratio: number; lb: number; ub: number },
  random: () => number,
): number[] {
  if (!(options.lb < options.ub))
    throw new Error(`clip-cov: the covariance band needs lb < ub (got ${options.lb}, ${options.ub})`);
  const k = selectionCount(mask, options.ratio);
  const candidates: number[] = [];
  for (let t = 0; t < cov.length; t++)
    if (mask[t] > 0 && !clipped[t] && cov[t] > options.lb && cov[t] < options.ub) candidates.push(t);
  // Partial Fisher-Yates: the first min(k, n) places become a uniform sample without replacement.
  const m = Math.min(k, candidates.length);
  for (let i = 0; i < m; i++) {
    const j = i + Math.floor(random() * (candidates.length - i));
    [candidates[i], candidates[j]] = [candidates[j], candidates[i]];
  }
  return candidates.slice(0, m).sort((a, b) => a - b);
}

/**
 * KL-Cov: the `selectionCount` response tokens with the largest covariance (ties: the earlier
 * token first), which get the |log π − log π_old| penalty. Returns indices, ascending.
 */
export function klCovSelect(cov: Float64Array, mask: ArrayLike<number>, ratio: number): number[] {
  const valid: number[] = [];
  for (let t = 0; t < cov.length; t++) if (mask[t] > 0) valid.push(t);
  if (valid.length === 0) return [];
  const k = Math.min(selectionCount(mask, ratio), valid.length);
  valid.sort((a, b) => cov[b] - cov[a] || a - b);
  return valid.slice(0, k).sort((a, b) => a - b);
}
