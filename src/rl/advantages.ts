// Advantage estimators (spec "Advantages"): one value per rollout from its reward and its
// group (the G responses to one prompt), broadcast to the response tokens by `perToken`.

import { checkInputs, groupMembers, groupNormalize, meanStd } from "../util/groups.ts";
import { Registry } from "../util/registry.ts";

export { groupNormalize };

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

/** Advantage estimators by name; `algo.advantage` in the config takes these names. */
export const advantageEstimators = new Registry<AdvantageFn>("advantage estimator", {
  grpo,
  rloo,
  reinforce,
});

export function registerAdvantage(name: string, fn: AdvantageFn): void {
  advantageEstimators.register(name, fn);
}

export function getAdvantage(name: string): AdvantageFn {
  return advantageEstimators.get(name);
}

export function advantageNames(): string[] {
  return advantageEstimators.names();
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
