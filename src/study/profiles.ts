// The study's profiles: which runs (seeds, rewards, mixing α, guard, methods beyond the paper) and
// how long, how they are evaluated and how many samples the theory checks take.

import { METHOD_NAMES as M } from "../analysis/methods.ts";

/** A base-model condition beyond the paper's, trained on every seed like the base rewards; its runs
 *  are base-<name>-s<seed> and its condition base/<name> (conditionName in analysis/conditions.ts). */
export interface MethodSpec {
  name: string;
  reward: string;
  /** Config over the profile's, nested as in a YAML config (checked by the train schema). */
  config: Record<string, unknown>;
  /** Settings validation chooses among: each is a condition <name>-<label> (runs
   *  base-<name>-<label>-s<seed>) with these fields over `config`; the one with the best validation
   *  accuracy at the last step is reported as <name> (bestCandidate in analysis/selection.ts). */
  candidates?: { label: string; config: Record<string, unknown> }[];
}

export interface Profile {
  name: string;
  seeds: number[];
  steps: number;
  baseRewards: string[];
  instructRewards: string[];
  alphas: number[];
  /** How many of the seeds the mixing path runs on. */
  mixSeeds: number;
  /** Guarded runs (base model, seed 0, mode rollback): one per reward, with these thresholds. */
  guard: {
    rewards: string[];
    entropy_drop: number;
    transitional_drop: number;
    patience: number;
    baseline_steps: number;
  } | null;
  lr: number;
  rollout: { prompts_per_step: number; group_size: number; max_new_tokens: number };
  /** Held-out evaluation (docs/reproduce.md, "Measurement"): every `every` steps the validation
   *  set (organism:val-id, for every choice); the test set (organism:test-id, reported) at step 0,
   *  the pre-registered `earlyStep`, the last step, and afterwards at the validation-chosen steps.
   *  Each problem: greedy plus k samples at temperature 1 (sampled accuracy is the primary metric). */
  eval: {
    every: number;
    earlyStep: number;
    test: { limit: number; k: number };
    val: { limit: number; k: number };
  };
  /** Smallest effect of interest (accuracy points / 100): the bound of the equivalence tests. */
  delta: number;
  /** Conditions beyond the paper (docs/reproduce.md, "Beyond the paper"); absent = none. */
  methods?: MethodSpec[];
  theory: { prompts: number; samples: number };
}

const REWARDS = ["self-certainty", "token-entropy", "trajectory-entropy", "correctness"];

/** Quick: one seed, short runs, small batches and evaluation sets, to fit ≤ 15 minutes on this
 *  2-core machine; it says what it cannot detect. Full: ≥ 5 seeds and 512 test problems × 8 samples,
 *  sized by the power calculation in docs/reproduce.md (two `reproduce` processes share the runs).
 *  The guard thresholds were set from the quick study, where the sampled entropy fell 3–31% and
 *  the guard's defaults (a 50% entropy drop) never fired: a 25% drop over a 3-step baseline. */
const GUARD = {
  rewards: ["self-certainty", "token-entropy", "trajectory-entropy"],
  entropy_drop: 0.25,
  transitional_drop: 0.5,
  patience: 3,
  baseline_steps: 3,
};
/** Beyond the paper (issue 16), full profile only: the quick profile stays as it was, to keep
 *  `npm start` short. With one update per rollout batch, as every other run of the study, the
 *  policy that scores a batch is the one that sampled it: the PPO ratio is 1 up to rounding (the
 *  quick study logged clip_frac 0 and ratio_max ≤ 1 + 2e-5 in all 257 steps of its 11 runs), so the clip never acts
 *  and KL-Cov's |log π − log π_old| is rounding noise. Clip on vs off and KL-Cov are therefore run
 *  off-policy, with 4 mini-batches per batch (4 updates per step), each against a plain run of the
 *  same schedule; the random control for the internal rewards keeps their schedule. */
const OFF_POLICY = { algo: { mini_batches: 4 } };
const COIN = { reward_options: { random_p: 0.5 } };
const METHODS: MethodSpec[] = [
  // The spurious-reward control (Bernoulli(0.5) per sample) and TTRL's vote, as the internal rewards run.
  { name: M.random, reward: "random", config: COIN },
  { name: M.majorityVote, reward: "majority-vote", config: {} },
  // Clip on and off, off-policy.
  { name: M.randomClip, reward: "random", config: { ...COIN, ...OFF_POLICY } },
  {
    name: M.randomNoClip,
    reward: "random",
    config: { ...COIN, algo: { ...OFF_POLICY.algo, policy_loss: "unclipped" } },
  },
  // KL-Cov (Cui et al. 2025: k = 2e-3 of the response tokens for Qwen2.5-7B, β = 1) against plain
  // self-certainty on the same schedule; k ∈ {2e-3, 1e-2} chosen on validation.
  { name: M.selfCertainty, reward: "self-certainty", config: OFF_POLICY },
  {
    name: M.klCov,
    reward: "self-certainty",
    config: { algo: { ...OFF_POLICY.algo, policy_loss: "kl-cov", kl_cov_coef: 1 } },
    candidates: [
      { label: "k0.002", config: { algo: { cov_ratio: 2e-3 } } },
      { label: "k0.01", config: { algo: { cov_ratio: 1e-2 } } },
    ],
  },
];

export const PROFILES: Record<"quick" | "full", Profile> = {
  quick: {
    name: "quick",
    seeds: [0],
    steps: 24,
    baseRewards: REWARDS,
    instructRewards: ["self-certainty", "correctness"],
    alphas: [0, 0.5, 1],
    mixSeeds: 1,
    guard: GUARD,
    lr: 1e-4,
    rollout: { prompts_per_step: 8, group_size: 4, max_new_tokens: 96 },
    eval: { every: 8, earlyStep: 8, test: { limit: 96, k: 4 }, val: { limit: 48, k: 4 } },
    delta: 0.05,
    theory: { prompts: 8, samples: 32 },
  },
  full: {
    name: "full",
    seeds: [0, 1, 2, 3, 4],
    steps: 48,
    baseRewards: REWARDS,
    instructRewards: ["self-certainty", "correctness"],
    alphas: [0, 0.25, 0.5, 0.75, 1],
    mixSeeds: 5,
    guard: GUARD,
    lr: 5e-5,
    rollout: { prompts_per_step: 8, group_size: 8, max_new_tokens: 96 },
    eval: { every: 8, earlyStep: 16, test: { limit: 512, k: 8 }, val: { limit: 128, k: 8 } },
    delta: 0.05,
    theory: { prompts: 16, samples: 64 },
    methods: METHODS,
  },
};

/** The profile with only the conditions trained with one of `rewards` (`reproduce --rewards`), e.g.
 *  the positive control alone (`correctness`) or the base rewards of a dose-response point. The
 *  weight-mixing path keeps its own runs (restrict it with --only). */
export function restrictRewards(p: Profile, rewards: readonly string[]): Profile {
  const known = new Set([...p.baseRewards, ...p.instructRewards, ...(p.methods ?? []).map((m) => m.reward)]);
  for (const r of rewards)
    if (!known.has(r))
      throw new Error(
        `--rewards: "${r}" is not a reward of the ${p.name} profile (valid: ${[...known].join(", ")})`,
      );
  const keep = (r: string) => rewards.includes(r);
  return {
    ...p,
    baseRewards: p.baseRewards.filter(keep),
    instructRewards: p.instructRewards.filter(keep),
    guard: p.guard?.rewards.some(keep) ? { ...p.guard, rewards: p.guard.rewards.filter(keep) } : null,
    methods: p.methods?.filter((m) => keep(m.reward)),
  };
}

/** The profile with only these conditions beyond the paper (`reproduce --methods`, e.g. `random`,
 *  the spurious-reward control alone) and none of the paper's; the mixing path keeps its runs
 *  (restrict it with --only). */
export function restrictMethods(p: Profile, names: readonly string[]): Profile {
  const known = (p.methods ?? []).map((m) => m.name);
  for (const n of names)
    if (!known.includes(n))
      throw new Error(
        `--methods: "${n}" is not a method of the ${p.name} profile (valid: ${known.join(", ") || "none"})`,
      );
  return {
    ...p,
    baseRewards: [],
    instructRewards: [],
    guard: null,
    methods: p.methods?.filter((m) => names.includes(m.name)),
  };
}
