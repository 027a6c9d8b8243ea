// Stage 2 of an RL step, score: every registered reward per rollout, the training reward (a
// mixture of named rewards, plus DAPO's overlong penalty when asked, optionally minus β·KL to the
// reference: verl's use_kl_in_reward), and the per-rollout advantages of the configured
// estimator. Scoring is split in two so that dynamic sampling can pick the groups to train on
// between them: scoreRewards (per sampling round) and advantagesFor (on what is trained).

import { type Grader, gradeAnswer } from "../grading/index.ts";
import type { Transformer } from "../model/transformer.ts";
import { computeRewards } from "../rewards/compute.ts";
import type { RewardResult, RewardTerm } from "../rewards/types.ts";
import { computeAdvantages, klInReward } from "./advantages.ts";
import type { TrainConfig } from "./config.ts";
import { overlongPenalty } from "./overlong.ts";
import { withReference } from "./reference.ts";
import type { Rollout } from "./rollout.ts";

export interface ScoreSettings {
  terms: RewardTerm[];
  mode: TrainConfig["reward_mode"];
  grade: Grader;
  algo: TrainConfig["algo"];
  /** Overlong penalty settings (overlong_buffer 0 = off). */
  rewardOptions: TrainConfig["reward_options"];
  /** Responses per prompt that are trained on; any further ones only vote. */
  groupSize: number;
  maxNewTokens: number;
  seed: number;
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

/** The rewards of the rollouts at `idx`, in that order. */
export function selectRewards(r: RewardResult, idx: readonly number[]): RewardResult {
  const values: RewardResult["values"] = {};
  for (const [name, v] of Object.entries(r.values)) values[name] = idx.map((i) => v[i]);
  const empty = new Set(r.empty);
  return {
    train: Float64Array.from(idx, (i) => r.train[i]),
    values,
    empty: idx.flatMap((i, j) => (empty.has(i) ? [j] : [])),
  };
}

/** Rewards of several batches, one after the other (every batch has the same reward names). */
export function concatRewards(parts: readonly RewardResult[]): RewardResult {
  const values: RewardResult["values"] = {};
  const empty: number[] = [];
  let offset = 0;
  for (const p of parts) {
    for (const [name, v] of Object.entries(p.values)) values[name] = [...(values[name] ?? []), ...v];
    empty.push(...p.empty.map((i) => i + offset));
    offset += p.train.length;
  }
  const train = new Float64Array(offset);
  let at = 0;
  for (const p of parts) {
    train.set(p.train, at);
    at += p.train.length;
  }
  return { train, values, empty };
}

/** Index of each rollout among its group's, in batch order. */
function placeInGroup(rollouts: readonly Rollout[]): number[] {
  const seen = new Map<number, number>();
  return rollouts.map((r) => {
    const k = seen.get(r.group) ?? 0;
    seen.set(r.group, k + 1);
    return k;
  });
}

/**
 * Rewards of one sampling round. Every response is scored (vote-only extras take part in the
 * group rewards: they vote in majority-vote and count in semantic-entropy's shares), then only
 * the first `groupSize` responses of each group are kept. The overlong penalty is added to the
 * training reward and logged as reward/overlong.
 */
export function scoreRewards(
  rollouts: Rollout[],
  s: ScoreSettings,
  step: number,
): { rollouts: Rollout[]; rewards: RewardResult } {
  const all = computeRewards(
    rollouts,
    { terms: s.terms, mode: s.mode },
    {
      grade: s.grade,
      answerOf: (text) => s.grade(text, "").answer,
      equivalent: (a, b) => gradeAnswer(a, b).equal,
      seed: s.seed,
      step,
    },
  );
  const { overlong_buffer: buffer, overlong_factor: factor } = s.rewardOptions;
  if (buffer > 0) {
    const pen = rollouts.map((r) => overlongPenalty(r.responseIds.length, s.maxNewTokens, buffer, factor));
    pen.forEach((p, i) => {
      all.train[i] += p;
    });
    all.values.overlong = pen;
  }
  const place = placeInGroup(rollouts);
  const keep = rollouts.flatMap((_, i) => (place[i] < s.groupSize ? [i] : []));
  if (keep.length === rollouts.length) return { rollouts, rewards: all };
  return { rollouts: keep.map((i) => rollouts[i]), rewards: selectRewards(all, keep) };
}

/** KL in the reward (when configured) and the advantages, on the rollouts that are trained on. */
export async function advantagesFor(
  rollouts: Rollout[],
  rewards: RewardResult,
  s: ScoreSettings,
): Promise<Scored> {
  let trainReward: ArrayLike<number> = rewards.train;
  if (s.ref && s.algo.kl_coef > 0 && s.algo.kl_in_reward)
    trainReward = klInReward(
      rewards.train,
      rollouts.map((r) => r.logp),
      await withReference(s.ref, rollouts, s.temperature, s.pad),
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

/** Both halves at once, for a batch without dynamic sampling. */
export async function score(
  rollouts: Rollout[],
  s: ScoreSettings,
  step = 0,
): Promise<Scored & { rollouts: Rollout[] }> {
  const r = scoreRewards(rollouts, s, step);
  return { ...(await advantagesFor(r.rollouts, r.rewards, s)), rollouts: r.rollouts };
}
