// Stage 2 of an RL step, score: every registered reward per rollout, the training reward (a
// mixture of named rewards, optionally minus β·KL to the reference: verl's use_kl_in_reward), and
// the per-rollout advantages of the configured estimator.

import type { Grader } from "../grading/index.ts";
import { frozenLogprobs } from "../model/logprobs.ts";
import type { Transformer } from "../model/transformer.ts";
import { computeRewards } from "../rewards/compute.ts";
import type { RewardResult, RewardTerm } from "../rewards/types.ts";
import { computeAdvantages, klInReward } from "./advantages.ts";
import type { TrainConfig } from "./config.ts";
import { packRollouts, type Rollout } from "./rollout.ts";

export interface ScoreSettings {
  terms: RewardTerm[];
  mode: TrainConfig["reward_mode"];
  grade: Grader;
  algo: TrainConfig["algo"];
  /** The sampling temperature: the reference is scored under the same one. */
  temperature: number;
  /** Frozen reference policy, when kl_coef > 0. */
  ref: Transformer | null;
  pad: number;
}

export interface Scored {
  rewards: RewardResult;
  /** The reward the advantages come from (rewards.train, or that minus β·KL). */
  trainReward: ArrayLike<number>;
  advantages: Float64Array;
}

/** log π_ref of each rollout's response tokens, one sequence at a time. */
function referenceLogprobs(ref: Transformer, rollouts: Rollout[], temperature: number, pad: number) {
  return rollouts.map((r) => {
    const packed = packRollouts([r], pad);
    const lp = frozenLogprobs(ref, packed, temperature);
    return Float32Array.from(r.responseIds.map((_, j) => lp[r.promptIds.length + j - 1]));
  });
}

export function score(rollouts: Rollout[], s: ScoreSettings): Scored {
  const rewards = computeRewards(rollouts, { terms: s.terms, mode: s.mode }, { grade: s.grade });
  let trainReward: ArrayLike<number> = rewards.train;
  if (s.ref && s.algo.kl_coef > 0 && s.algo.kl_in_reward)
    trainReward = klInReward(
      rewards.train,
      rollouts.map((r) => r.logp),
      referenceLogprobs(s.ref, rollouts, s.temperature, s.pad),
      s.algo.kl_coef,
    );
  const advantages = computeAdvantages(
    s.algo.advantage,
    trainReward,
    rollouts.map((r) => r.group),
    { normalizeStd: s.algo.normalize_std, whiten: s.algo.whiten },
  );
  return { rewards, trainReward, advantages };
}
