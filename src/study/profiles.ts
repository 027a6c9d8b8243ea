// The study's profiles: which runs (seeds, rewards, mixing α, guard) and how long, how they are
// evaluated and how many samples the theory checks take.

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
  },
};
