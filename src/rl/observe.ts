// Stage 4 of an RL step, observe: the step's metrics line (rewards and their correlations,
// advantages, update statistics, response statistics, timings). The collapse guard that reads
// them is guard.ts.

import { withinGroupAuroc } from "../analysis/statistics.ts";
import type { RewardResult } from "../rewards/types.ts";
import type { Optimized, UpdateStats } from "./optimize.ts";
import type { Rollout } from "./rollout.ts";
import { INTERNAL_REWARDS, rewardMetrics, summarize } from "./stats.ts";

export type StepMetrics = Record<string, number | null | string | Record<string, unknown>>;

/** Wall-clock milliseconds of the stages. */
export interface StageTimes {
  collect: number;
  score: number;
  optimize: number;
}

export interface StepRecord {
  /** Steps done (1-based). */
  step: number;
  rollouts: Rollout[];
  rewards: RewardResult;
  trainReward: ArrayLike<number>;
  advantages: Float64Array;
  optimized: Optimized;
  times: StageTimes;
  transitionalRate: (text: string) => number;
}

function mean(xs: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i];
  return xs.length ? s / xs.length : Number.NaN;
}

function rolloutMetrics(rollouts: Rollout[], transitionalRate: (text: string) => number): StepMetrics {
  const rates = rollouts.map((r) => transitionalRate(r.responseText));
  return {
    response_length: mean(rollouts.map((r) => r.responseIds.length)),
    truncated_frac: mean(rollouts.map((r) => (r.truncated ? 1 : 0))),
    mean_token_entropy: mean(rollouts.flatMap((r) => Array.from(r.entropy))),
    transitional_rate: mean(rates),
    reflection_frac: mean(rates.map((x) => (x > 0 ? 1 : 0))),
  };
}

/** The metrics line of one step (without eval and guard, which the trainer adds). */
export function stepMetrics(r: StepRecord): StepMetrics {
  const { rewards, optimized: o, times } = r;
  const m: StepMetrics = { step: r.step, lr: o.lr };
  const rm = rewardMetrics(rewards.values);
  for (const [name, v] of Object.entries(rm.mean)) m[`reward/${name}`] = v;
  m["reward/train"] = mean(r.trainReward);
  const corr = rewards.values.correctness;
  m.accuracy = corr ? mean(corr.map((v) => v ?? 0)) : null;
  m.empty_responses = rewards.empty.length;
  for (const name of INTERNAL_REWARDS) m[`corr/${name}~correctness`] = rm.corrWithCorrectness[name] ?? null;
  INTERNAL_REWARDS.forEach((a, i) => {
    for (const b of INTERNAL_REWARDS.slice(i + 1)) m[`corr/${a}~${b}`] = rm.corrInternal[a]?.[b] ?? null;
  });
  const a = summarize(r.advantages);
  m.adv_mean = a.mean;
  m.adv_std = a.std;
  m.adv_zero_frac = mean(Array.from(r.advantages, (x) => (x === 0 ? 1 : 0)));
  for (const k of Object.keys(o.updates[0] ?? {}) as (keyof UpdateStats)[])
    m[k] = mean(o.updates.map((u) => u[k]));
  Object.assign(m, rolloutMetrics(r.rollouts, r.transitionalRate), mechanismMetrics(r));
  const sampledTokens = r.rollouts.reduce((n, x) => n + x.responseIds.length, 0);
  m.time_rollout_s = times.collect / 1000;
  m.time_reward_s = times.score / 1000;
  m.time_update_s = times.optimize / 1000;
  m.sample_tokens_per_s = (sampledTokens * 1000) / times.collect;
  m.train_tokens_per_s = (o.trainTokens * 1000) / times.optimize;
  return m;
}

/**
 * Per internal reward, the within-group AUROC against correctness (0.5: the reward no longer tells
 * right from wrong among a prompt's samples). With `entropy_cov` (the log-prob × advantage
 * covariance that drives entropy under policy gradient, from optimize.ts) these are the study's
 * per-step mechanism signals.
 */
function mechanismMetrics(r: StepRecord): StepMetrics {
  const m: StepMetrics = {};
  const correct = r.rewards.values.correctness;
  for (const name of INTERNAL_REWARDS) {
    const score = r.rewards.values[name];
    if (!correct || !score) continue;
    const groups = new Map<number, { scores: number[]; correct: boolean[] }>();
    r.rollouts.forEach((ro, i) => {
      const s = score[i];
      if (s === null || s === undefined) return;
      let g = groups.get(ro.group);
      if (!g) groups.set(ro.group, (g = { scores: [], correct: [] }));
      g.scores.push(s);
      g.correct.push(correct[i] === 1);
    });
    m[`auroc/${name}`] = withinGroupAuroc([...groups.values()])?.auroc ?? null;
  }
  return m;
}
