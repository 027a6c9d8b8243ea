// Rewards by name, so a config can name them and a user can add one by registering a function.

import { Registry } from "../util/registry.ts";
import { correctness, format } from "./external.ts";
import { selfCertainty, tokenEntropy, trajectoryEntropy } from "./internal.ts";
import type { RewardFn } from "./types.ts";

/** Every registered reward is computed and logged every step; a config trains on a mixture. */
export const rewards = new Registry<RewardFn>("reward", {
  "self-certainty": selfCertainty,
  "token-entropy": tokenEntropy,
  "trajectory-entropy": trajectoryEntropy,
  correctness,
  format,
});

/** Add (or replace) a reward under `name`. */
export function registerReward(name: string, fn: RewardFn): void {
  rewards.register(name, fn);
}

export function getReward(name: string): RewardFn {
  return rewards.get(name);
}

export function rewardNames(): string[] {
  return rewards.names();
}
