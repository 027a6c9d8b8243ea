// `rlif train`: RL from internal feedback (or RLVR) on a prompt set, with held-out evaluation.

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import {
  cachedStep0,
  evaluateHeldOut,
  type HeldOutResult,
  type HeldOutSet,
  heldOutSets,
  readHeldOut,
} from "../eval/held-out.ts";
import { loadProblems, makeGrader, withPrompt } from "../eval/sources.ts";
import { loadModel } from "../model/checkpoint.ts";
import { DEFAULT_WORKLOAD } from "../model/memory.ts";
import { openModel } from "../model/open.ts";
import { type TrainConfig, trainConfigSchema } from "../rl/config.ts";
import { type StepMetrics, trainRl } from "../rl/trainer.ts";
import { transitionalRate } from "../tasks/transitional.ts";
import { writeFileAtomic } from "../util/fs.ts";
import { addConfigOptions, addRunFolderFlags, resolveConfig } from "./options.ts";
import { startProgress } from "./progress.ts";

const fmt = (x: unknown, d = 3) => (typeof x === "number" && Number.isFinite(x) ? x.toFixed(d) : "-");

/** Run an RL training from a resolved config; returns how it stopped (the model is in its checkpoints
 *  and its memory is freed). */
export async function runTraining(
  cfg: TrainConfig,
  opts: { quiet?: boolean; resume?: boolean; restart?: boolean; step0Cache?: string } = {},
) {
  // Both sources are read and checked (an empty file is an error naming it) before any work.
  const trainProblems = loadProblems(cfg.data.source, cfg.data.num_prompts, cfg.seed);
  const heldOut = readHeldOut(cfg);
  const {
    model,
    codec,
    prompt,
    folder: modelDir,
  } = openModel(cfg.model, {
    template: cfg.data.template,
    fit: {
      purpose: "train",
      workload: {
        ...DEFAULT_WORKLOAD,
        trainSequences: Math.ceil(
          (cfg.rollout.prompts_per_step * cfg.rollout.group_size) / cfg.algo.mini_batches,
        ),
        newTokens: cfg.rollout.max_new_tokens,
        reference: cfg.algo.kl_coef > 0,
      },
    },
  });
  const sets = heldOutSets(cfg, prompt, heldOut);
  const prompts = withPrompt(trainProblems, prompt).map((p) => ({
    id: p.id,
    text: p.prompt,
    answer: p.answer,
  }));
  const trainGrade = makeGrader(cfg.data.source);
  mkdirSync(cfg.out, { recursive: true });
  writeFileAtomic(
    join(cfg.out, "config.resolved.json"),
    `${JSON.stringify({ ...cfg, model_dir: modelDir }, null, 2)}\n`,
  );

  const bar = opts.quiet
    ? null
    : startProgress(
        "train [{bar}] {value}/{total} | R {reward} | acc {acc} | H {H} | trans {tr} | len {len} | eval {ev} | {s}s/step",
        cfg.steps,
        { reward: "-", acc: "-", H: "-", tr: "-", len: "-", ev: "-", s: "-" },
      );
  let ev = "-";
  try {
    const r = await trainRl(model, cfg, {
      resume: opts.resume,
      restart: opts.restart,
      codec,
      prompts,
      grade: trainGrade,
      transitionalRate,
      loadReference: () => loadModel(modelDir),
      evaluate: async (m, step, due) => {
        const one = (set: HeldOutSet) => {
          const run = () => evaluateHeldOut(m, codec, set, step);
          return step === 0 && opts.step0Cache ? cachedStep0(opts.step0Cache, modelDir, set, run) : run();
        };
        const out: HeldOutResult[] = [];
        if (sets.val) out.push(await one(sets.val));
        if (due.test) out.push(await one(sets.test));
        return out;
      },
      onStep: (m: StepMetrics) => {
        const e = m.eval as { greedy_accuracy?: number } | undefined;
        if (e?.greedy_accuracy !== undefined) ev = fmt(e.greedy_accuracy);
        const secs = (m.time_rollout_s as number) + (m.time_reward_s as number) + (m.time_update_s as number);
        bar?.update(m.step as number, {
          reward: fmt(m["reward/train"]),
          acc: fmt(m.accuracy),
          H: fmt(m.mean_token_entropy),
          tr: fmt(m.transitional_rate, 2),
          len: fmt(m.response_length, 1),
          ev,
          s: fmt(secs, 1),
        });
      },
      log: (msg) => {
        if (bar) process.stderr.write("\n");
        console.error(msg);
      },
    });
    // The trained model is in the run's checkpoints; a study trains many runs in one process.
    r.model.dispose();
    return { stoppedBy: r.stoppedBy, lastStep: r.lastStep };
  } finally {
    bar?.stop();
  }
}

/** `--guard [mode]` -> guard.mode (bare: rollback); an explicit --guard.mode wins. */
export function guardShorthand(flags: Record<string, unknown>): Record<string, unknown> {
  const { guard, ...rest } = flags;
  if (guard === undefined || rest["guard.mode"] !== undefined) return rest;
  return { ...rest, "guard.mode": guard === true ? "rollback" : guard };
}

export function registerTrain(program: Command): void {
  const cmd = program
    .command("train")
    .description(
      "post-train a policy with RL: internal feedback (self-certainty, token-entropy, trajectory-entropy), " +
        "answer agreement (majority-vote, semantic-entropy), the random control, RLVR (correctness) or " +
        "mixtures; GRPO/RLOO/REINFORCE with PPO clipping, dual clip, GSPO, Clip-Cov or KL-Cov, DAPO's " +
        "dynamic sampling and overlong handling. Metrics go to <out>/metrics.jsonl, checkpoints to " +
        "<out>/checkpoints.",
    )
    .option("--guard [mode]", "shorthand for --guard.mode (a bare --guard means rollback)");
  // Built now, so that estimators and rewards registered before the CLI is assembled are valid names.
  const schema = trainConfigSchema();
  addConfigOptions(addRunFolderFlags(cmd), schema).action(async (flags) => {
    const cfg = resolveConfig(schema, guardShorthand(flags));
    const r = await runTraining(cfg, { resume: !!flags.resume, restart: !!flags.restart });
    console.log(`${cfg.out}: stopped by ${r.stoppedBy} at step ${r.lastStep}`);
  });
}
