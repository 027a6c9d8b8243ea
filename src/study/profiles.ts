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
  /** Held-out evaluation: greedy on `limit` problems plus k samples each at temperature 1. */
  eval: { limit: number; every: number; k: number };
  theory: { prompts: number; samples: number };
}

const REWARDS = ["self-certainty", "token-entropy", "trajectory-entropy", "correctness"];

/** Quick: one seed, short runs, small batches, sized from measured runs on this 2-core machine
 *  (40–55 s per 24-step run on the organism; see docs/reproduce.md). Full: the study, sized to
 *  about 4 minutes per run on one core (two `reproduce` processes share the runs).
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
    eval: { limit: 64, every: 4, k: 2 },
    theory: { prompts: 8, samples: 32 },
  },
  full: {
    name: "full",
    seeds: [0, 1, 2],
    steps: 48,
    baseRewards: REWARDS,
    instructRewards: ["self-certainty", "correctness"],
    alphas: [0, 0.25, 0.5, 0.75, 1],
    mixSeeds: 3,
    guard: GUARD,
    lr: 5e-5,
    rollout: { prompts_per_step: 8, group_size: 8, max_new_tokens: 96 },
    eval: { limit: 128, every: 4, k: 2 },
    theory: { prompts: 16, samples: 64 },
  },
};
