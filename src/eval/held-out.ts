// Held-out evaluation during training: a validation set (read by every choice: best checkpoint,
// peak step, guard rollback) at every evaluation step, and a test set (reported, never chosen on)
// at the steps its schedule names. Each evaluation returns its summary and its per-problem lines
// for evals.jsonl.

import { createHash } from "node:crypto";
import { existsSync, mkdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { type EvalSplit, type ProblemLine, problemLines } from "../analysis/records.ts";
import { Random } from "../engine/random.ts";
import type { Transformer } from "../model/transformer.ts";
import type { TrainConfig } from "../rl/config.ts";
import type { PromptKind } from "../tasks/corpus.ts";
import { hasReflection, transitionalRate } from "../tasks/transitional.ts";
import { readJsonFile, writeFileAtomic } from "../util/fs.ts";
import {
  type EvalOptions,
  type EvalProblem,
  type EvalSummary,
  evaluate,
  type TextCodec,
} from "./evaluate.ts";
import { loadProblems, makeGrader, type SourceProblem, withPrompt, withTemplate } from "./sources.ts";

export interface HeldOutSet {
  split: EvalSplit;
  /** Where the problems come from (organism:<split> or a file). */
  source: string;
  problems: EvalProblem[];
  /** Evaluation options without the random stream: each evaluation restarts it from `seed`, so the
   *  same model gives the same samples at every step (common random numbers across steps). */
  options: Omit<EvalOptions, "rng">;
  seed: number;
}

export interface HeldOutResult {
  split: EvalSplit;
  summary: EvalSummary;
  lines: ProblemLine[];
}

/** The validation source a config names: `auto` is organism:val-id for an organism test source. */
export function validationSource(cfg: TrainConfig): string | null {
  const s = cfg.val.source;
  if (s === "none") return null;
  if (s !== "auto") return s;
  return cfg.eval.source.startsWith("organism:") ? "organism:val-id" : null;
}

/** The problems of a config's test and validation sources, read (and checked) before any work. */
export function readHeldOut(cfg: TrainConfig): { test: SourceProblem[]; val: SourceProblem[] | null } {
  const valSource = validationSource(cfg);
  if (valSource !== null && valSource === cfg.eval.source)
    throw new Error(`val.source: the validation set must not be the test set (${valSource})`);
  return {
    test: loadProblems(cfg.eval.source, cfg.eval.limit),
    val: valSource === null ? null : loadProblems(valSource, cfg.val.limit),
  };
}

/** Test and validation sets of a training config, asked with the model's prompt (a template kind or
 *  OpenedModel.prompt). */
export function heldOutSets(
  cfg: TrainConfig,
  prompt: PromptKind | ((problem: string) => string),
  problems: ReturnType<typeof readHeldOut> = readHeldOut(cfg),
): { test: HeldOutSet; val: HeldOutSet | null } {
  const make = (
    split: EvalSplit,
    source: string,
    ps: SourceProblem[],
    k: number,
    seed: number,
  ): HeldOutSet => ({
    split,
    source,
    problems: typeof prompt === "string" ? withTemplate(ps, prompt) : withPrompt(ps, prompt),
    options: {
      k,
      temperature: cfg.eval.temperature,
      topP: 1,
      maxNewTokens: cfg.rollout.max_new_tokens,
      batchSize: cfg.rollout.batch_size,
      grade: makeGrader(source),
      transitionalRate,
      hasReflection,
    },
    seed,
  });
  const valSource = validationSource(cfg);
  return {
    test: make("test", cfg.eval.source, problems.test, cfg.eval.k, cfg.seed + 1),
    val:
      valSource === null || !problems.val
        ? null
        : make("val", valSource, problems.val, cfg.val.k, cfg.seed + 2),
  };
}

/** Whether step `step` (steps done; 0 = before training) is an evaluation step. */
export function evaluationDue(cfg: TrainConfig, step: number): boolean {
  return step === 0 || step === cfg.steps || (cfg.eval.every > 0 && step % cfg.eval.every === 0);
}

/** Whether the test set is evaluated at an evaluation step: always at 0 and at the last step;
 *  in between on every evaluation step, or only at the listed ones. */
export function testDue(cfg: TrainConfig, step: number): boolean {
  if (!evaluationDue(cfg, step)) return false;
  const t = cfg.eval.test_steps;
  if (t === "none") return false;
  if (t === "every" || step === 0 || step === cfg.steps) return true;
  return t.split(",").map(Number).includes(step);
}

/** Evaluate one set at `step`; `why` marks an evaluation made outside the schedule. */
export async function evaluateHeldOut(
  model: Transformer,
  codec: TextCodec,
  set: HeldOutSet,
  step: number,
  why?: string,
): Promise<HeldOutResult> {
  const { records, summary } = await evaluate(model, codec, set.problems, {
    ...set.options,
    rng: new Random(set.seed),
  });
  return { split: set.split, summary, lines: problemLines(step, set.split, records, why) };
}

/** The accuracy a choice is made on: sampled (mean@k) when the set draws samples, else greedy. */
export function selectionScore(s: EvalSummary): number {
  return s.mean_at_k ?? s.greedy_accuracy;
}

/**
 * Evaluations of the start model (step 0) shared by the runs that start from the same model with
 * the same held-out sets and seeds (a study's runs of one model and seed): the first run evaluates
 * and writes `<cacheDir>/step0-<key>.json`, the others read it. The key covers the model's weights
 * file (path, size, mtime) and everything that decides the evaluation, so a hit is exactly what
 * the evaluation would have returned.
 */
export async function cachedStep0(
  cacheDir: string,
  modelDir: string,
  set: HeldOutSet,
  run: () => Promise<HeldOutResult>,
): Promise<HeldOutResult> {
  const weights = statSync(join(modelDir, "model.safetensors"));
  const { grade: _g, transitionalRate: _t, hasReflection: _h, onProgress: _p, ...options } = set.options;
  const key = createHash("sha256")
    .update(
      JSON.stringify({
        model: resolve(modelDir),
        size: weights.size,
        mtime: weights.mtimeMs,
        split: set.split,
        source: set.source,
        problems: set.problems,
        options,
        seed: set.seed,
      }),
    )
    .digest("hex")
    .slice(0, 24);
  const path = join(cacheDir, `step0-${key}.json`);
  if (existsSync(path)) return readJsonFile<HeldOutResult>(path);
  const r = await run();
  mkdirSync(cacheDir, { recursive: true });
  writeFileAtomic(path, JSON.stringify(r));
  return r;
}
