// `rlif pretrain` and `rlif sft`: build the model organism's base and instruct models.

import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { z } from "zod";
import { evaluate, greedyOnly } from "../eval/evaluate.ts";
import { loadProblems, makeGrader, withTemplate } from "../eval/sources.ts";
import { loadModel, saveModel } from "../model/checkpoint.ts";
import { parseModelConfig } from "../model/config.ts";
import { codecFor, REPO_ROOT } from "../model/open.ts";
import { loadTokenizer, saveTokenizer, type Tokenizer } from "../model/tokenizer.ts";
import { Transformer } from "../model/transformer.ts";
import { type PromptKind, pretrainDocuments, sftExamples } from "../tasks/corpus.ts";
import { DEFAULT_MIXTURE_V2, pretrainDocumentsV2, RECHECK_METHODS } from "../tasks/corpus-v2.ts";
import { organismTokenizer, PackedStream, SftBatches } from "../tasks/organism-batches.ts";
import { transitionalRate } from "../tasks/transitional.ts";
import { type BatchSource, type LmStepMetrics, trainLm } from "../train/lm.ts";
import { writeFileAtomic } from "../util/fs.ts";
import { addConfigOptions, addRunFolderFlags, resolveConfig } from "./options.ts";
import { startProgress } from "./progress.ts";

const posInt = () => z.number().int().positive();

const TrainSchema = z
  .object({
    steps: posInt().default(2000).describe("optimizer steps"),
    batch_size: posInt().default(16).describe("sequences per step"),
    seq_len: posInt().default(256).describe("tokens per sequence"),
    lr: z.number().positive().default(3e-3).describe("peak learning rate"),
    warmup_steps: z.number().int().min(0).default(100).describe("linear warm-up steps"),
    min_lr_ratio: z.number().min(0).max(1).default(0.1).describe("final lr / peak lr (cosine)"),
    weight_decay: z.number().min(0).default(0.1).describe("AdamW decoupled weight decay"),
    grad_clip: z.number().min(0).default(1).describe("global gradient-norm clip"),
    checkpoint_every: posInt().default(250).describe("checkpoint every N steps"),
    log_every: posInt().default(10).describe("log every N steps"),
  })
  .strict();

const EvalSchema = z
  .object({
    every: z
      .number()
      .int()
      .min(0)
      .default(500)
      .describe("greedy accuracy on test-id every N steps (0 = end only)"),
    limit: posInt().default(64).describe("problems per evaluation"),
    max_new_tokens: posInt().default(160).describe("response length limit"),
  })
  .strict()
  .prefault({});

export const PretrainSchema = z
  .object({
    out: z.string().default("runs/organism-base").describe("run folder (metrics, checkpoints)"),
    export: z.string().default("models/organism-base").describe("final model folder (HF layout)"),
    seed: z.number().int().default(0).describe("seed of weights and data"),
    init: z
      .string()
      .nullable()
      .default(null)
      .describe("continue pretraining this model folder (a later stage) instead of fresh weights"),
    model: z
      .object({
        hidden_size: posInt().default(128),
        num_hidden_layers: posInt().default(4),
        num_attention_heads: posInt().default(4),
        num_key_value_heads: posInt().default(2),
        intermediate_size: posInt().default(384),
        max_position_embeddings: posInt().default(256),
        rope_theta: z.number().positive().default(10000),
        tie_word_embeddings: z.boolean().default(true),
        initializer_range: z.number().positive().default(0.02),
      })
      .strict()
      .prefault({}),
    data: z
      .object({
        documents: posInt().default(60000).describe("pretraining documents generated"),
        corpus: z
          .enum(["v1", "v2"])
          .default("v1")
          .describe("v1: uninformative confidence (slips are noise); v2: writers of varying reliability"),
        informativeness: z
          .number()
          .min(0)
          .max(1)
          .default(DEFAULT_MIXTURE_V2.informativeness)
          .describe("v2 only: share of documents whose hedging and drift track their errors (κ)"),
        recheck: z
          .enum(RECHECK_METHODS)
          .default(DEFAULT_MIXTURE_V2.recheck)
          .describe(
            "v2 only: how a re-check recomputes a hard step: make-ten (27+3=30, 30+5=35), make-ten-remainder (the split 8-3=5 written), columns (7+8=15, 20+15=35)",
          ),
        lose_thread: z
          .number()
          .min(0)
          .max(1)
          .default(DEFAULT_MIXTURE_V2.driftAnyStepProb)
          .describe(
            "v2 only: probability that a writer of an uncoupled document loses the thread after a step (rambles, gives up, drifts)",
          ),
        cross_check: z
          .number()
          .min(0)
          .max(1)
          .default(DEFAULT_MIXTURE_V2.crossCheckProb)
          .describe("v2 only: share of worked solutions that recompute the chain before the answer"),
        styles: z
          .object({
            terse: z.number().min(0),
            verbose: z.number().min(0),
            stepwise: z.number().min(0),
            "answer-only": z.number().min(0),
          })
          .strict()
          .refine((w) => Object.values(w).some((x) => x > 0), "at least one style needs a positive weight")
          .default({ ...DEFAULT_MIXTURE_V2.styleWeights })
          .describe("v2 only: relative weights of the solution styles"),
      })
      .strict()
      .prefault({}),
    train: TrainSchema.prefault({}),
    eval: EvalSchema,
  })
  .strict();

export const SftSchema = z
  .object({
    init: z.string().default("models/organism-base").describe("model folder to fine-tune"),
    out: z.string().default("runs/organism-instruct").describe("run folder (metrics, checkpoints)"),
    export: z.string().default("models/organism-instruct").describe("final model folder (HF layout)"),
    seed: z.number().int().default(0).describe("seed of data order"),
    data: z
      .object({ examples: posInt().default(20000).describe("SFT examples generated") })
      .strict()
      .prefault({}),
    train: TrainSchema.extend({
      steps: posInt().default(600),
      lr: z.number().positive().default(1e-3),
      warmup_steps: z.number().int().min(0).default(30),
      weight_decay: z.number().min(0).default(0),
    }).prefault({}),
    eval: EvalSchema,
  })
  .strict();

function progressBar(total: number, label: string) {
  return startProgress(
    `${label} [{bar}] {value}/{total} | loss {loss} | {tps} tok/s | acc {acc} | eta {eta_formatted}`,
    total,
    { loss: "-", tps: "-", acc: "-" },
  );
}

function organismEval(tok: Tokenizer, kind: PromptKind, limit: number, maxNewTokens: number) {
  const source = "organism:test-id";
  const problems = withTemplate(loadProblems(source, limit), kind);
  const codec = codecFor(tok);
  const grade = makeGrader(source);
  return async (model: Transformer): Promise<Record<string, number>> => {
    const { summary } = await evaluate(
      model,
      codec,
      problems,
      greedyOnly({ maxNewTokens, grade, transitionalRate }),
    );
    return {
      eval_greedy_accuracy: summary.greedy_accuracy,
      eval_entropy: summary.greedy.mean_token_entropy,
      eval_length: summary.greedy.mean_response_length,
      eval_transitional_rate: summary.greedy.transitional_rate,
    };
  };
}

async function runLm(
  label: string,
  model: Transformer,
  data: BatchSource,
  tok: Tokenizer,
  kind: PromptKind,
  cfg: z.output<typeof TrainSchema>,
  ev: z.output<typeof EvalSchema>,
  out: string,
  exportDir: string,
  run: { resume: boolean; restart: boolean },
) {
  const bar = progressBar(cfg.steps, label);
  let acc = "-";
  let result: Awaited<ReturnType<typeof trainLm>>;
  try {
    result = await trainLm(model, data, {
      steps: cfg.steps,
      lr: cfg.lr,
      warmupSteps: cfg.warmup_steps,
      minLrRatio: cfg.min_lr_ratio,
      weightDecay: cfg.weight_decay,
      gradClip: cfg.grad_clip,
      checkpointEvery: cfg.checkpoint_every,
      logEvery: cfg.log_every,
      outDir: out,
      tokenizerJson: JSON.stringify(tok.json),
      ...run,
      evaluate: organismEval(tok, kind, ev.limit, ev.max_new_tokens),
      evalEvery: ev.every || cfg.steps,
      onLog: (m: LmStepMetrics) => {
        if (m.eval_greedy_accuracy !== undefined) acc = m.eval_greedy_accuracy.toFixed(3);
        bar.update(m.step, { loss: m.loss.toFixed(3), tps: Math.round(m.tokens_per_s), acc });
      },
    });
  } finally {
    bar.stop();
  }
  const trained = result.model;
  trained.config.rlif_kind = kind;
  await saveModel(exportDir, trained);
  saveTokenizer(tok, exportDir);
  console.log(`wrote ${exportDir} (final greedy accuracy on test-id: ${acc})`);
}

export function registerOrganism(program: Command): void {
  const pre = program
    .command("pretrain")
    .description(
      "pretrain the organism's base model on the synthetic math world (messy corpus with reflection)",
    );
  addConfigOptions(addRunFolderFlags(pre), PretrainSchema).action(async (flags) => {
    const cfg = resolveConfig(PretrainSchema, flags);
    mkdirSync(cfg.out, { recursive: true });
    writeFileAtomic(join(cfg.out, "config.resolved.json"), JSON.stringify(cfg, null, 2));
    const tok = organismTokenizer(cfg.seed);
    console.error(`generating ${cfg.data.documents} documents...`);
    const docs = (
      cfg.data.corpus === "v2"
        ? pretrainDocumentsV2(cfg.seed, cfg.data.documents, {
            ...DEFAULT_MIXTURE_V2,
            informativeness: cfg.data.informativeness,
            recheck: cfg.data.recheck,
            crossCheckProb: cfg.data.cross_check,
            driftAnyStepProb: cfg.data.lose_thread,
            styleWeights: cfg.data.styles,
          })
        : pretrainDocuments(cfg.seed, cfg.data.documents)
    ).map((d) => d.text);
    const data = new PackedStream(docs, tok, cfg.train.batch_size, cfg.train.seq_len, cfg.seed);
    const config = parseModelConfig({
      ...cfg.model,
      vocab_size: tok.vocabSize,
      model_type: "qwen2",
      bos_token_id: tok.bosId ?? null,
      eos_token_id: tok.eosId,
      pad_token_id: tok.padId,
    });
    const model = cfg.init ? loadModel(cfg.init) : Transformer.init(config, cfg.seed);
    if (cfg.init && model.config.vocab_size !== tok.vocabSize)
      throw new Error(
        `${cfg.init}: vocabulary of ${model.config.vocab_size}, the organism tokenizer has ${tok.vocabSize}`,
      );
    const epochs = (cfg.train.steps * cfg.train.batch_size * cfg.train.seq_len) / data.tokens;
    console.error(
      `model: ${(model.numParameters() / 1e6).toFixed(3)}M parameters, vocab ${tok.vocabSize}; corpus ` +
        `${(data.tokens / 1e6).toFixed(2)}M tokens (${epochs.toFixed(2)} epochs over ${cfg.train.steps} steps)`,
    );
    await runLm("pretrain", model, data, tok, "base", cfg.train, cfg.eval, cfg.out, cfg.export, {
      resume: !!flags.resume,
      restart: !!flags.restart,
    });
  });

  const sft = program
    .command("sft")
    .description("fine-tune a base model on clean chat-formatted solutions (the organism's instruct model)");
  addConfigOptions(addRunFolderFlags(sft), SftSchema).action(async (flags) => {
    const cfg = resolveConfig(SftSchema, flags);
    const init =
      cfg.init.startsWith("models/") && !existsSync(cfg.init) ? join(REPO_ROOT, cfg.init) : cfg.init;
    mkdirSync(cfg.out, { recursive: true });
    writeFileAtomic(join(cfg.out, "config.resolved.json"), JSON.stringify(cfg, null, 2));
    const tok = loadTokenizer(init);
    const model = loadModel(init);
    const data = new SftBatches(
      sftExamples(cfg.seed, cfg.data.examples),
      tok,
      cfg.train.batch_size,
      cfg.train.seq_len,
      cfg.seed,
    );
    await runLm("sft", model, data, tok, "instruct", cfg.train, cfg.eval, cfg.out, cfg.export, {
      resume: !!flags.resume,
      restart: !!flags.restart,
    });
  });
}
