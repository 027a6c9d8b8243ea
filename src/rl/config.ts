// The `rlif train` configuration: one schema gives defaults, --help, flags and validation. The
// names of advantage estimators, KL estimators, loss aggregations and rewards come from their
// registries, so whatever is registered when the schema is built is accepted by YAML and flags.

import { z } from "zod";
import { rewardNames } from "../rewards/registry.ts";
import type { RewardTerm } from "../rewards/types.ts";
import { BENCHMARK_NAMES } from "../tasks/benchmarks.ts";
import { advantageNames } from "./advantages.ts";
import { aggregations, klEstimators } from "./loss.ts";
import { policyLosses } from "./surrogates.ts";

const num = () => z.number();
const posInt = () => z.number().int().positive();

/** A z.enum over a registry's names. */
function registered(names: string[], fallback: string) {
  return z.enum(names as [string, ...string[]]).default(fallback);
}

/** Every term of a reward spec names a registered reward. */
function checkRewardSpec(spec: string, ctx: z.RefinementCtx): void {
  try {
    const valid = new Set(rewardNames());
    for (const t of parseRewardSpec(spec))
      if (!valid.has(t.name))
        ctx.addIssue({
          code: "custom",
          message: `unknown reward "${t.name}"; valid: ${[...valid].join(", ")}`,
        });
  } catch (e) {
    ctx.addIssue({ code: "custom", message: (e as Error).message });
  }
}

/** The schema, built from the registries as they are now. */
export function trainConfigSchema() {
  return z
    .object({
      model: z
        .string()
        .default("organism-base")
        .describe("policy to train: a model folder, or organism-base / organism-instruct"),
      out: z.string().default("runs/train").describe("run folder: config, metrics.jsonl, checkpoints"),
      seed: z.number().int().default(0).describe("seed of prompt order, sampling and evaluation"),
      steps: posInt().default(60).describe("RL steps (one rollout batch each)"),
      reward: z
        .string()
        .superRefine(checkRewardSpec)
        .default("self-certainty")
        .describe(
          `training reward: a name (${rewardNames().join(", ")}) or a mixture 'name:weight,name:weight'`,
        ),
      reward_mode: z
        .enum(["weighted-sum", "group-normalized-sum"])
        .default("weighted-sum")
        .describe("how mixture terms combine; group-normalized-sum normalises each within its group first"),
      reward_options: z
        .object({
          last_k: z
            .number()
            .int()
            .min(0)
            .default(0)
            .describe("internal rewards: average over the last k response tokens only (0 = all; RENT)"),
          last_frac: num()
            .gt(0)
            .max(1)
            .default(1)
            .describe("internal rewards: average over the last fraction of the response (RENT: 1/3)"),
          random_p: num().min(0).max(1).default(0.5).describe("random: probability of reward 1"),
          vote_tie: z
            .enum(["first", "none"])
            .default("first")
            .describe("majority-vote: a tie goes to the answer seen first, or to none (all 0)"),
          overlong_buffer: z
            .number()
            .int()
            .min(0)
            .default(0)
            .describe("DAPO overlong penalty: tokens before max_new_tokens where it starts (0 = off)"),
          overlong_factor: num().min(0).default(1).describe("overlong penalty at max_new_tokens"),
        })
        .strict()
        .refine((o) => o.last_k === 0 || o.last_frac === 1, {
          message: "give last_k or last_frac, not both",
        })
        .prefault({}),
      data: z
        .object({
          source: z
            .string()
            .default("organism:train")
            .describe(
              `prompts: organism:<split>, a shipped set by name (${BENCHMARK_NAMES.join(", ")}) ` +
                "or a JSONL file with problem and answer fields",
            ),
          template: z
            .enum(["auto", "base", "instruct"])
            .default("auto")
            .describe("prompt template; auto picks instruct for models whose folder says so"),
          num_prompts: posInt().default(4096).describe("size of the prompt pool drawn from the source"),
        })
        .strict()
        .prefault({}),
      rollout: z
        .object({
          prompts_per_step: posInt().default(8).describe("prompts per RL step"),
          group_size: posInt().default(8).describe("G: responses sampled per prompt"),
          temperature: num().positive().default(1).describe("sampling temperature"),
          top_p: num().gt(0).max(1).default(1).describe("nucleus sampling mass"),
          max_new_tokens: posInt().default(160).describe("maximum response length in tokens"),
          batch_size: posInt().default(128).describe("sequences sampled together"),
          vote_extra: z
            .number()
            .int()
            .min(0)
            .default(0)
            .describe("extra responses per prompt that are scored (they vote) but not trained on"),
        })
        .strict()
        .prefault({}),
      algo: z
        .object({
          advantage: registered(advantageNames(), "grpo").describe("advantage estimator"),
          normalize_std: z
            .boolean()
            .default(true)
            .describe("grpo: divide by the group std (false = Dr.GRPO)"),
          whiten: z.boolean().default(false).describe("reinforce: whiten advantages over the batch"),
          clip_low: num().min(0).lt(1).default(0.2).describe("PPO clip epsilon below 1"),
          clip_high: num().min(0).default(0.2).describe("PPO clip epsilon above 1 (clip-higher: 0.28)"),
          epochs: posInt().default(1).describe("passes over each rollout batch"),
          mini_batches: posInt().default(1).describe("optimizer steps per epoch"),
          aggregation: registered(aggregations.names(), "token-mean").describe(
            "how per-token losses are averaged",
          ),
          kl_coef: num().min(0).default(0).describe("beta: weight of the KL to the frozen reference"),
          kl_type: registered(klEstimators.names(), "k3").describe("KL estimator"),
          kl_in_reward: z
            .boolean()
            .default(false)
            .describe("subtract beta*k1 from the reward instead of the loss"),
          entropy_coef: num().default(0).describe("entropy bonus coefficient c_H"),
          policy_loss: registered(policyLosses.names(), "vanilla").describe(
            "policy-gradient term: vanilla (PPO clip), unclipped, gspo (sequence ratio), clip-cov, kl-cov",
          ),
          clip_ratio_c: num()
            .min(0)
            .default(0)
            .refine((c) => c === 0 || c > 1, { message: "must be 0 (off) or > 1" })
            .describe("dual clip: bound the loss of A < 0 tokens by -A*c (vanilla; 0 = off, verl: 3)"),
          cov_ratio: num()
            .gt(0)
            .max(1)
            .default(2e-4)
            .describe("clip-cov / kl-cov: fraction of response tokens selected"),
          cov_lb: num().default(1).describe("clip-cov: lower bound of the covariance band"),
          cov_ub: num().default(5).describe("clip-cov: upper bound of the covariance band"),
          kl_cov_coef: num().min(0).default(1).describe("kl-cov: weight of |log pi - log pi_old|"),
          zero_std: z
            .enum(["keep", "drop", "resample"])
            .default("keep")
            .describe("groups with equal rewards: keep, drop, or drop and sample more prompts (DAPO)"),
          max_rounds: posInt()
            .default(4)
            .describe("zero_std resample: most sampling rounds per step before training on what is kept"),
          mask_truncated: z
            .boolean()
            .default(false)
            .describe("leave responses cut at max_new_tokens out of the loss (DAPO)"),
        })
        .strict()
        .refine((a) => a.cov_lb < a.cov_ub, { message: "cov_lb must be below cov_ub", path: ["cov_lb"] })
        .refine((a) => a.clip_ratio_c === 0 || a.policy_loss === "vanilla", {
          message: "the dual clip (clip_ratio_c) applies to policy_loss vanilla only",
          path: ["clip_ratio_c"],
        })
        .prefault({}),
      optim: z
        .object({
          lr: num()
            .positive()
            .default(1e-4)
            .describe("peak learning rate (1e-4 suits the 0.8M organism; large models use 1e-6 to 3e-6)"),
          warmup_ratio: num().min(0).max(1).default(0.1).describe("fraction of steps of linear warm-up"),
          min_lr_ratio: num()
            .min(0)
            .max(1)
            .default(0.1)
            .describe("final lr as a fraction of the peak (cosine)"),
          schedule: z.enum(["cosine", "constant"]).default("cosine").describe("lr schedule after warm-up"),
          weight_decay: num().min(0).default(0).describe("AdamW decoupled weight decay"),
          grad_clip: num().min(0).default(1).describe("clip the global gradient norm to this (0 = off)"),
        })
        .strict()
        .prefault({}),
      eval: z
        .object({
          source: z
            .string()
            .default("organism:test-id")
            .describe("held-out problems (same syntax as data.source)"),
          limit: posInt().default(128).describe("problems evaluated"),
          every: z
            .number()
            .int()
            .min(0)
            .default(10)
            .describe("evaluate every N steps (0 = only at start and end)"),
          k: z.number().int().min(0).default(0).describe("samples per problem besides greedy"),
          temperature: num().positive().default(1).describe("temperature of the k samples"),
          test_steps: z
            .string()
            .regex(/^(every|\d+(,\d+)*|none)$/, 'expected "every", "none" or steps like "8,16"')
            .default("every")
            .describe(
              "when the test set (source) is evaluated: every evaluation step, or only at step 0, the last step and these steps",
            ),
        })
        .strict()
        .prefault({}),
      val: z
        .object({
          source: z
            .string()
            .default("auto")
            .describe(
              "validation problems for every choice (best checkpoint, guard rollback): auto = organism:val-id when eval.source is an organism split, none = no validation",
            ),
          limit: posInt().default(64).describe("validation problems, evaluated at every evaluation step"),
          k: z.number().int().min(0).default(4).describe("validation samples per problem besides greedy"),
        })
        .strict()
        .prefault({}),
      checkpoint_every: posInt().default(10).describe("write a checkpoint every N steps"),
      keep_checkpoints: posInt().default(2).describe("checkpoints kept (the best one is always kept)"),
      on_nan: z
        .enum(["stop", "rollback"])
        .default("stop")
        .describe(
          "NaN/Inf in loss or gradients: stop, or roll back to the last checkpoint and skip the batch",
        ),
      guard: z
        .object({
          mode: z
            .enum(["off", "warn", "stop", "rollback"])
            .default("off")
            .describe("watch entropy and transitional words: warn, stop, or roll back (guard.rollback_to)"),
          entropy_drop: num()
            .gt(0)
            .lt(1)
            .default(0.5)
            .describe("trigger when mean entropy < (1 - x) * initial"),
          transitional_drop: num()
            .gt(0)
            .max(1)
            .default(0.8)
            .describe("trigger when the transitional-word rate < (1 - x) * initial"),
          patience: posInt().default(2).describe("consecutive triggered steps before acting"),
          baseline_steps: posInt()
            .default(3)
            .describe("the initial entropy and transitional rate are the means over this many first steps"),
          rollback_to: z
            .enum(["validation", "signals"])
            .default("validation")
            .describe(
              "rollback target: the checkpoint with the best validation accuracy, or (label-free) the newest one before the guard's signals fell",
            ),
        })
        .strict()
        .prefault({}),
    })
    .strict();
}

/** The schema over the built-in (and so far registered) names. */
export const TrainConfigSchema = trainConfigSchema();

export type TrainConfig = z.output<ReturnType<typeof trainConfigSchema>>;

/** "self-certainty" or "self-certainty:1,correctness:0.5" -> terms. */
export function parseRewardSpec(s: string): { name: string; weight: number }[] {
  const terms = s
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean)
    .map((p) => {
      const [name, w] = p.split(":");
      const weight = w === undefined ? 1 : Number(w);
      if (!Number.isFinite(weight)) throw new Error(`reward: bad weight in "${p}"`);
      return { name: name.trim(), weight };
    });
  if (!terms.length) throw new Error("reward: empty");
  return terms;
}

const WINDOWED = new Set(["self-certainty", "token-entropy", "trajectory-entropy"]);

/** The training reward's terms with the options reward_options gives each of them. */
export function rewardTerms(cfg: Pick<TrainConfig, "reward" | "reward_options">): RewardTerm[] {
  const o = cfg.reward_options;
  return parseRewardSpec(cfg.reward).map((t) => {
    let options: Record<string, unknown> = {};
    if (WINDOWED.has(t.name) && o.last_k > 0) options = { last_k: o.last_k };
    if (WINDOWED.has(t.name) && o.last_frac < 1) options = { last_frac: o.last_frac };
    if (t.name === "random") options = { p: o.random_p };
    if (t.name === "majority-vote") options = { tie: o.vote_tie };
    return { ...t, options };
  });
}
