// Groups whose rewards are all equal give every response a zero advantage under GRPO and RLOO:
// they cost a forward and backward pass and teach nothing. DAPO's dynamic sampling drops them and
// samples further prompts until the batch is full; their share is logged as frac_reward_zero_std.

import type { RewardResult } from "../rewards/types.ts";
import { groupMembers } from "../util/groups.ts";
import { concatRewards, selectRewards } from "./score.ts";

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

/** One sampling round's responses (each with its group id) and their rewards. */
export interface Round<R extends { group: number }> {
  rollouts: R[];
  rewards: RewardResult;
}

export interface Gathered<R extends { group: number }> {
  /** What is trained on: every group (keep) or the groups with reward variance. */
  trained: Round<R>;
  /** What the step's metrics describe: `trained`, or round 0 when nothing is left to train on. */
  observed: Round<R>;
  /** Sampling rounds used. */
  rounds: number;
  /** Share of all sampled groups whose rewards were all equal (frac_reward_zero_std). */
  fracZeroStd: number;
  groupsTrained: number;
}

/**
 * DAPO's dynamic sampling around a step's sampling rounds. keep: round 0 as it is. drop: round 0
 * without its zero-variance groups. resample: rounds 0, 1, … until `target` groups with reward
 * variance are gathered (the surplus of the last round is discarded) or `maxRounds` ran out.
 */
export async function gatherGroups<R extends { group: number }>(
  sampleRound: (round: number) => Promise<Round<R>>,
  o: { mode: "keep" | "drop" | "resample"; target: number; maxRounds: number },
): Promise<Gathered<R>> {
  const parts: Round<R>[] = [];
  let first: Round<R> | null = null;
  let groupsSeen = 0;
  let flatGroups = 0;
  let kept = 0;
  let rounds = 0;
  const maxRounds = o.mode === "resample" ? o.maxRounds : 1;
  while (rounds < maxRounds && kept < o.target) {
    const r = await sampleRound(rounds++);
    first ??= r;
    const groups = r.rollouts.map((x) => x.group);
    groupsSeen += groupMembers(groups).length;
    flatGroups += zeroStdGroups(r.rewards.train, groups).size;
    if (o.mode === "keep") {
      parts.push(r);
      kept = groupMembers(groups).length;
      break;
    }
    const idx = informativeResponses(r.rewards.train, groups, o.target - kept);
    kept += groupMembers(idx.map((i) => groups[i])).length;
    if (idx.length)
      parts.push({ rollouts: idx.map((i) => r.rollouts[i]), rewards: selectRewards(r.rewards, idx) });
  }
  const trained: Round<R> = {
    rollouts: parts.flatMap((p) => p.rollouts),
    rewards: concatRewards(parts.map((p) => p.rewards)),
  };
  return {
    trained,
    observed: trained.rollouts.length || !first ? trained : first,
    rounds,
    fracZeroStd: groupsSeen ? flatGroups / groupsSeen : 0,
    groupsTrained: kept,
  };
}
