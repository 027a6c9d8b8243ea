// Groups whose rewards are all equal give every response a zero advantage under GRPO and RLOO:
// they cost a forward and backward pass and teach nothing. DAPO's dynamic sampling drops them and
// samples further prompts until the batch is full; their share is logged as frac_reward_zero_std.

import { groupMembers } from "../util/groups.ts";

/** Ids of the groups whose rewards are all exactly equal (a group of one included). */
export function zeroStdGroups(rewards: ArrayLike<number>, groups: ArrayLike<number>): Set<number> {
  if (rewards.length !== groups.length)
    throw new Error(`zero-std groups: ${rewards.length} rewards but ${groups.length} group ids`);
  const out = new Set<number>();
  for (const idx of groupMembers(groups))
    if (idx.every((i) => rewards[i] === rewards[idx[0]])) out.add(groups[idx[0]]);
  return out;
}

/** Share of the groups whose rewards are all equal (0 for an empty batch). */
export function fracRewardZeroStd(rewards: ArrayLike<number>, groups: ArrayLike<number>): number {
  const n = groupMembers(groups).length;
  return n ? zeroStdGroups(rewards, groups).size / n : 0;
}

/**
 * Indices of the responses in groups with some reward variance, group by group in first-seen
 * order, at most `maxGroups` groups (the rest of a generation round is discarded, as in DAPO).
 */
export function informativeResponses(
  rewards: ArrayLike<number>,
  groups: ArrayLike<number>,
  maxGroups = Number.POSITIVE_INFINITY,
): number[] {
  const flat = zeroStdGroups(rewards, groups);
  const out: number[] = [];
  let kept = 0;
  for (const idx of groupMembers(groups)) {
    if (kept >= maxGroups) break;
    if (flat.has(groups[idx[0]])) continue;
    out.push(...idx);
    kept++;
  }
  return out;
}
