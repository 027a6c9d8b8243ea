export { majorityVoteReward, randomControlReward, semanticEntropyReward } from "./batch.ts";
export { computeRewards } from "./compute.ts";
export { correctness, format } from "./external.ts";
export { selfCertainty, tokenEntropy, trajectoryEntropy } from "./internal.ts";
export { getReward, registerBatchReward, registerReward, rewardNames } from "./registry.ts";
export type * from "./types.ts";
