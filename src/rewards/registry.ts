// Rewards by name, so a config can name them and a user can add one by registering a function.

import { Registry } from "../util/registry.ts";
import { majorityVoteReward, randomControlReward, semanticEntropyReward } from "./batch.ts";
import { correctness, format } from "./external.ts";
import { selfCertainty, tokenEntropy, trajectoryEntropy } from "./internal.ts";
import type { BatchRewardFn, RegisteredReward, RewardFn } from "./types.ts";

/** Every registered reward is computed and logged every step; a config trains on a mixture. */
export const rewards = new Registry<RegisteredReward>("reward", {
  "self-certainty": selfCertainty,
  "token-entropy": tokenEntropy,
  "trajectory-entropy": trajectoryEntropy,
  correctness,
  format,
  "majority-vote": { batch: majorityVoteReward },
  "semantic-entropy": { batch: semanticEntropyReward },
  random: { batch: randomControlReward },
});

/** Add (or replace) a reward under `name`. */
export function registerReward(name: string, fn: RewardFn): void {
  rewards.register(name, fn);
}

/** Add (or replace) a reward that is computed over the whole batch at once. */
export function registerBatchReward(name: string, fn: BatchRewardFn): void {
  rewards.register(name, { batch: fn });
}

export function getReward(name: string): RegisteredReward {
  return rewards.get(name);
}

export function rewardNames(): string[] {
  return rewards.names();
}
