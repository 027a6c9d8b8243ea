// Per-group statistics of one value per rollout (the G responses to one prompt form a group):
// shared by the advantage estimators (rl/advantages.ts) and group-normalised reward mixtures
// (rewards/compute.ts), which must not depend on each other.

/** Same length, every value finite (messages name the advantage computation, their main user). */
export function checkInputs(rewards: ArrayLike<number>, groups: ArrayLike<number>): void {
  if (rewards.length !== groups.length)
    throw new Error(`advantages: ${rewards.length} rewards but ${groups.length} group ids`);
  for (let i = 0; i < rewards.length; i++)
    if (!Number.isFinite(rewards[i])) throw new Error(`advantages: reward ${i} is ${rewards[i]}`);
}

/** Member indices of each group, in first-seen order. */
export function groupMembers(groups: ArrayLike<number>): number[][] {
  const byId = new Map<number, number[]>();
  for (let i = 0; i < groups.length; i++) {
    const m = byId.get(groups[i]);
    if (m) m.push(i);
    else byId.set(groups[i], [i]);
  }
  return [...byId.values()];
}

/** Mean and sample std (n−1 denominator; 0 for n < 2) of xs[idx]. */
export function meanStd(
  xs: ArrayLike<number>,
  idx: readonly number[],
): { mean: number; std: number; equal: boolean } {
  const n = idx.length;
  let mean = 0;
  let equal = true;
  for (const i of idx) {
    mean += xs[i];
    if (xs[i] !== xs[idx[0]]) equal = false;
  }
  mean /= n;
  let ss = 0;
  for (const i of idx) ss += (xs[i] - mean) ** 2;
  return { mean, std: n > 1 ? Math.sqrt(ss / (n - 1)) : 0, equal };
}

/**
 * (x_i − mean_G) / (std_G + eps) within each group (or without the division). A group whose
 * values are all equal, or of size 1, gives exactly 0: the rounded mean of equal floats need
 * not equal them, so that case is decided before any arithmetic.
 */
export function groupNormalize(
  xs: ArrayLike<number>,
  groups: ArrayLike<number>,
  normalizeStd = true,
  eps = 1e-6,
): Float64Array {
  checkInputs(xs, groups);
  const out = new Float64Array(xs.length);
  for (const idx of groupMembers(groups)) {
    const { mean, std, equal } = meanStd(xs, idx);
    if (equal) continue;
    for (const i of idx) out[i] = normalizeStd ? (xs[i] - mean) / (std + eps) : xs[i] - mean;
  }
  return out;
}
