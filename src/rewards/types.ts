// Data that rewards read. A sampled response carries the per-token quantities the sampling
// policy computed while it sampled (no second forward pass is needed to reward it). The RL
// trainer's `Rollout` (rl/rollout.ts) is one, with its prompt and truncation flag added.

import type { Grader } from "../grading/index.ts";

export type { Grader };

export interface SampledResponse {
  responseIds: number[];
  responseText: string;
  /** Reference answer, when the prompt set has one (needed by `correctness`). */
  gold?: string;
  /** Per response token, from the sampling policy at its temperature: log p_t(y_t). */
  logp: Float32Array;
  /** Per response token: entropy H_t of p_t over the full vocabulary. */
  entropy: Float32Array;
  /** Per response token: sc_t = KL(U || p_t). */
  selfCertainty: Float32Array;
  /** Index of the prompt this rollout answers; rollouts of one prompt form a GRPO group. */
  group: number;
}

export interface RewardContext {
  /** Answer checker used by `correctness`; without one, correctness is reported as null. */
  grade?: Grader;
  /** The final answer a response states (null when none): the grader's extraction, for the
   *  answer-agreement rewards (majority-vote, semantic-entropy). */
  answerOf?: (responseText: string) => string | null;
  /** Whether two final answers are equivalent: the grader's equivalence. */
  equivalent?: (a: string, b: string) => boolean;
  /** Run seed and 0-based step, for rewards drawn at random. */
  seed?: number;
  step?: number;
}

/** Per-reward options from the config (e.g. `{ reduce: "sum" }` for trajectory-entropy). */
export type RewardOptions = Readonly<Record<string, unknown>>;

/**
 * A reward: one number per rollout, higher is better. `null` means "not defined for this
 * rollout" (correctness without a reference answer or grader): it is logged as null and is an
 * error only if the reward is used for training.
 */
export type RewardFn = (
  rollout: SampledResponse,
  ctx: RewardContext,
  options: RewardOptions,
) => number | null;

/** A reward that needs the whole batch (the other responses to its prompt, or its place in the
 *  batch): one value (or null) per rollout. Registered as `{ batch: fn }`. */
export type BatchRewardFn = (
  rollouts: readonly SampledResponse[],
  ctx: RewardContext,
  options: RewardOptions,
) => (number | null)[];

/** What the reward registry holds: a per-response reward, or a batch reward. */
export type RegisteredReward = RewardFn | { batch: BatchRewardFn };

export interface RewardTerm {
  name: string;
  weight: number;
  options?: RewardOptions;
}

export type MixtureMode = "weighted-sum" | "group-normalized-sum";

/** The training reward: Σ_k w_k r_k, or Σ_k w_k · groupNormalise(r_k) (Intuitor's way). */
export interface RewardSpec {
  terms: RewardTerm[];
  mode?: MixtureMode;
}

export interface RewardResult {
  /** The reward the policy is trained on, one per rollout. */
  train: Float64Array;
  /** Every registered reward, one value (or null) per rollout, for the step's metrics. */
  values: Record<string, (number | null)[]>;
  /** Indices of rollouts with an empty response (T = 0): every reward is 0 for them. */
  empty: number[];
}
