// Rewards by name, so a config can name them and a user can add one by registering a function.

import { correctness, format } from "./external.ts";
import { selfCertainty, tokenEntropy, trajectoryEntropy } from "./internal.ts";
import type { RewardFn } from "./types.ts";

const rewards = new Map<string, RewardFn>();

/** Add (or replace) a reward under `name`. Every registered reward is logged every step. */
export function registerReward(name: string, fn: RewardFn): void {
  if (!/^[a-z0-9][a-z0-9_-]*$/i.test(name)) throw new Error(`invalid reward name "${name}"`);
  rewards.set(name, fn);
}

export function getReward(name: string): RewardFn {
  const fn = rewards.get(name);
  if (!fn) throw new Error(`unknown reward "${name}"; valid rewards: ${rewardNames().join(", ")}`);
  return fn;
}

export function rewardNames(): string[] {
  return [...rewards.keys()];
}

registerReward("self-certainty", selfCertainty);
registerReward("token-entropy", tokenEntropy);
registerReward("trajectory-entropy", trajectoryEntropy);
registerReward("correctness", correctness);
registerReward("format", format);
