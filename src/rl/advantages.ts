// Advantage estimators (spec "Advantages"): one value per rollout from its reward and its
// group (the G responses to one prompt), broadcast to the response tokens by `perToken`.

export interface AdvantageOptions {
  /** grpo: divide by the group's std (default true); false is Dr.GRPO. */
  normalizeStd?: boolean;
  /** reinforce: whiten the advantages over the batch (default false). */
  whiten?: boolean;
  /** Added to the std before dividing (default 1e-6). */
  eps?: number;
}

export type AdvantageFn = (
  rewards: ArrayLike<number>,
  groups: ArrayLike<number>,
  options: AdvantageOptions,
) => Float64Array;

function checkInputs(rewards: ArrayLike<number>, groups: ArrayLike<number>): void {
  if (rewards.length !== groups.length)
    throw new Error(`advantages: ${rewards.length} rewards but ${groups.length} group ids`);
  for (let i = 0; i < rewards.length; i++)
    if (!Number.isFinite(rewards[i])) throw new Error(`advantages: reward ${i} is ${rewards[i]}`);
}

/** Member indices of each group, in first-seen order. */
function groupMembers(groups: ArrayLike<number>): number[][] {
  const byId = new Map<number, number[]>();
  for (let i = 0; i < groups.length; i++) {
    const m = byId.get(groups[i]);
    if (m) m.push(i);
    else byId.set(groups[i], [i]);
  }
  return [...byId.values()];
}

/** Mean and sample std (n−1 denominator; 0 for n < 2) of xs[idx]. */
function meanStd(
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

/** GRPO: A_i = (r_i − mean_G r) / (std_G r + eps), std with the n−1 denominator. */
export const grpo: AdvantageFn = (rewards, groups, o) =>
  groupNormalize(rewards, groups, o.normalizeStd ?? true, o.eps ?? 1e-6);

/** RLOO: A_i = r_i − mean_{j≠i} r_j over the group; a group of one gets 0. */
export const rloo: AdvantageFn = (rewards, groups) => {
  checkInputs(rewards, groups);
  const out = new Float64Array(rewards.length);
  for (const idx of groupMembers(groups)) {
    const { equal } = meanStd(rewards, idx);
    if (equal) continue;
    let s = 0;
    for (const i of idx) s += rewards[i];
    for (const i of idx) out[i] = rewards[i] - (s - rewards[i]) / (idx.length - 1);
  }
  return out;
};

/** REINFORCE with the batch-mean baseline, optionally whitened over the batch. */
export const reinforce: AdvantageFn = (rewards, groups, o) => {
  checkInputs(rewards, groups);
  const all = new Array(rewards.length).fill(0);
  return groupNormalize(rewards, all, o.whiten ?? false, o.eps ?? 1e-6);
};

const estimators = new Map<string, AdvantageFn>([
  ["grpo", grpo],
  ["rloo", rloo],
  ["reinforce", reinforce],
]);

export function registerAdvantage(name: string, fn: AdvantageFn): void {
  estimators.set(name, fn);
}

export function getAdvantage(name: string): AdvantageFn {
  const fn = estimators.get(name);
  if (!fn)
    throw new Error(`unknown advantage estimator "${name}"; valid: ${[...estimators.keys()].join(", ")}`);
  return fn;
}

export function advantageNames(): string[] {
  return [...estimators.keys()];
}

/** Advantages per rollout by estimator name. */
export function computeAdvantages(
  name: string,
  rewards: ArrayLike<number>,
  groups: ArrayLike<number>,
  options: AdvantageOptions = {},
): Float64Array {
  return getAdvantage(name)(rewards, groups, options);
}

/** Broadcast per-sequence values to tokens: out[t] = perSeq[seqIndex[t]]. */
export function perToken(perSeq: ArrayLike<number>, seqIndex: Int32Array): Float64Array {
  const out = new Float64Array(seqIndex.length);
  for (let t = 0; t < seqIndex.length; t++) {
    const s = seqIndex[t];
    if (s < 0 || s >= perSeq.length)
      throw new Error(`perToken: token ${t} points at sequence ${s} of ${perSeq.length}`);
    out[t] = perSeq[s];
  }
  return out;
}

/** KL in the reward (verl's use_kl_in_reward): r_i − β Σ_t (log π_old − log π_ref) over the
 *  response tokens of rollout i (k1 summed over the sequence). */
export function klInReward(
  rewards: ArrayLike<number>,
  logpOld: readonly ArrayLike<number>[],
  refLogp: readonly ArrayLike<number>[],
  beta: number,
): Float64Array {
  if (logpOld.length !== rewards.length || refLogp.length !== rewards.length)
    throw new Error(
      `klInReward: ${rewards.length} rewards, ${logpOld.length} / ${refLogp.length} log-prob rows`,
    );
  const out = Float64Array.from(rewards as ArrayLike<number>);
  for (let i = 0; i < out.length; i++) {
    const a = logpOld[i];
    const b = refLogp[i];
    if (a.length !== b.length)
      throw new Error(`klInReward: rollout ${i} has ${a.length} vs ${b.length} log-probs`);
    let kl = 0;
    for (let t = 0; t < a.length; t++) kl += a[t] - b[t];
    out[i] -= beta * kl;
  }
  return out;
}
