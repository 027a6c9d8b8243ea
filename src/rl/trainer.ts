// The RL trainer: one step = rollouts -> rewards -> advantages -> clipped policy-gradient updates.
// Everything random is a pure function of (seed, step), so a resumed run repeats exactly what an
// uninterrupted one would have done.

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import * as op from "../engine/ops.ts";
import { AdamW, clipGradNorm, learningRate } from "../engine/optim.ts";
import { Random } from "../engine/random.ts";
import { backward, noGrad, type Tensor, tidy } from "../engine/tensor.ts";
import type { EvalSummary, TextCodec } from "../eval/evaluate.ts";
import type { Grader } from "../grading/index.ts";
import {
  type LoadedCheckpoint,
  loadCheckpointDir,
  loadLatestCheckpoint,
  pinCheckpoint,
  saveCheckpoint,
} from "../model/checkpoint.ts";
import type { Transformer } from "../model/transformer.ts";
import { computeRewards } from "../rewards/compute.ts";
import { appendJsonLine, truncateJsonlAfterStep } from "../util/fs.ts";
import { computeAdvantages, klInReward, perToken } from "./advantages.ts";
import { parseRewardSpec, type TrainConfig } from "./config.ts";
import { policyLoss } from "./loss.ts";
import { collectRollouts, type PromptItem, packRollouts, type Rollout } from "./rollout.ts";
import { pearson, pointBiserial, summarize } from "./stats.ts";

export interface TrainerDeps {
  codec: TextCodec;
  prompts: PromptItem[];
  grade: Grader;
  transitionalRate: (text: string) => number;
  /** Held-out evaluation; its summary is logged with the step. */
  evaluate?: (model: Transformer, step: number) => Promise<EvalSummary>;
  /** Frozen reference policy (for KL); loaded lazily only when kl_coef > 0. */
  loadReference?: () => Transformer;
  onStep?: (m: StepMetrics) => void;
  log?: (msg: string) => void;
  /** Continue from the newest checkpoint in cfg.out (else a run folder with checkpoints is an error). */
  resume?: boolean;
}

export type StepMetrics = Record<string, number | null | string | Record<string, unknown>>;

const INTERNAL = ["self-certainty", "token-entropy", "trajectory-entropy"];

function mixSeed(seed: number, step: number, salt: number): number {
  return (Math.imul(seed ^ 0x5bd1e995, 0x27d4eb2d) + Math.imul(step + 1, 0x165667b1) + salt) >>> 0;
}

/** Prompts of one step: a seeded permutation walk over the pool, without repeats inside an epoch. */
export function promptsForStep(pool: PromptItem[], n: number, seed: number, step: number): PromptItem[] {
  const perEpoch = Math.max(1, Math.floor(pool.length / n));
  const epoch = Math.floor(step / perEpoch);
  const order = new Random(mixSeed(seed, epoch, 17)).permutation(pool.length);
  const start = (step % perEpoch) * n;
  return Array.from({ length: n }, (_, i) => pool[order[(start + i) % pool.length]]);
}

export class NonFiniteError extends Error {}

function allFinite(xs: ArrayLike<number>): boolean {
  for (let i = 0; i < xs.length; i++) if (!Number.isFinite(xs[i])) return false;
  return true;
}

interface UpdateStats {
  loss: number;
  pg_loss: number;
  kl: number;
  entropy_bonus_term: number;
  clip_frac: number;
  clip_frac_low: number;
  clip_frac_high: number;
  ratio_mean: number;
  ratio_max: number;
  grad_norm: number;
}

/** One optimizer update on a mini-batch of rollouts with their per-sequence advantages. */
function update(
  model: Transformer,
  ref: Transformer | null,
  opt: AdamW,
  batch: Rollout[],
  adv: Float64Array,
  cfg: TrainConfig,
  lr: number,
  pad: number,
  maxLen: number,
): UpdateStats {
  const p = packRollouts(batch, pad);
  const N = p.B * p.T;
  const invTemp = 1 / cfg.rollout.temperature;
  let refLogp: Float32Array | undefined;
  if (ref && cfg.algo.kl_coef > 0 && !cfg.algo.kl_in_reward) {
    refLogp = noGrad(() =>
      tidy(() => {
        const z = op.scale(ref.forward(p.ids, p.B, p.T), invTemp);
        return Float32Array.from(op.column(op.tokenStats(z, p.targets), 0).readSync());
      }),
    );
  }
  return tidy(() => {
    opt.zeroGrad();
    // Same distribution the rollout sampled from: logits divided by the sampling temperature.
    const z = op.scale(model.forward(p.ids, p.B, p.T), invTemp);
    const stats = op.tokenStats(z, p.targets);
    const logp = op.column(stats, 0);
    const entropy: Tensor | undefined = cfg.algo.entropy_coef !== 0 ? op.column(stats, 1) : undefined;
    const { loss, stats: s } = policyLoss(
      {
        logp,
        oldLogp: p.oldLogp,
        refLogp,
        entropy,
        advantages: perToken(adv, p.seqIndex),
        mask: p.mask,
        seqIndex: p.seqIndex,
      },
      {
        clipLow: cfg.algo.clip_low,
        clipHigh: cfg.algo.clip_high,
        klCoef: refLogp ? cfg.algo.kl_coef : 0,
        klType: cfg.algo.kl_type,
        entropyCoef: cfg.algo.entropy_coef,
        aggregation: cfg.algo.aggregation,
        maxLen,
      },
    );
    const lossValue = loss.item();
    backward(loss);
    const gradNorm = clipGradNorm(model.parameters().values(), cfg.optim.grad_clip);
    if (!Number.isFinite(lossValue) || !Number.isFinite(gradNorm))
      throw new NonFiniteError(`loss ${lossValue}, gradient norm ${gradNorm} (${N} positions)`);
    opt.update(lr);
    return {
      loss: lossValue,
      pg_loss: s.pgLoss,
      kl: s.klMean,
      entropy_bonus_term: s.entropyMean,
      clip_frac: s.clipFrac,
      clip_frac_low: s.clipFracLow,
      clip_frac_high: s.clipFracHigh,
      ratio_mean: s.ratioMean,
      ratio_max: s.ratioMax,
      grad_norm: gradNorm,
    };
  });
}

function mean(xs: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i];
  return xs.length ? s / xs.length : Number.NaN;
}

function rolloutMetrics(rollouts: Rollout[], deps: TrainerDeps): StepMetrics {
  const lens = rollouts.map((r) => r.responseIds.length);
  const tokH = rollouts.flatMap((r) => Array.from(r.entropy));
  const rates = rollouts.map((r) => deps.transitionalRate(r.responseText));
  return {
    response_length: mean(lens),
    truncated_frac: mean(rollouts.map((r) => (r.truncated ? 1 : 0))),
    mean_token_entropy: mean(tokH),
    transitional_rate: mean(rates),
    reflection_frac: mean(rates.map((x) => (x > 0 ? 1 : 0))),
  };
}

interface GuardState {
  /** Means over the first baseline_steps steps (a single step's rollouts are too noisy). */
  initialEntropy: number | null;
  initialTransitional: number | null;
  /** Sums over the baseline steps seen so far. */
  baseline: { n: number; entropy: number; transitional: number };
  strikes: number;
}

export interface TrainResult {
  model: Transformer;
  stoppedBy: "steps" | "guard" | "nan";
  lastStep: number;
}

export async function trainRl(
  initial: Transformer,
  cfg: TrainConfig,
  deps: TrainerDeps,
): Promise<TrainResult> {
  const log = deps.log ?? ((m: string) => console.error(m));
  mkdirSync(cfg.out, { recursive: true });
  const metricsPath = join(cfg.out, "metrics.jsonl");
  const optOpts = { lr: cfg.optim.lr, weightDecay: cfg.optim.weight_decay };
  let model = initial;
  let opt = new AdamW(model.parameters(), optOpts);
  let start = 0;
  let best = { score: Number.NEGATIVE_INFINITY, step: -1 };
  let guard: GuardState = {
    initialEntropy: null,
    initialTransitional: null,
    baseline: { n: 0, entropy: 0, transitional: 0 },
    strikes: 0,
  };
  const restore = (ck: LoadedCheckpoint) => {
    model = ck.model;
    opt = new AdamW(model.parameters(), optOpts);
    if (ck.optimizer) opt.loadState(ck.optimizer.step, ck.optimizer.tensors);
    start = ck.state.step;
    if (ck.state.best) best = ck.state.best as typeof best;
    if (ck.state.guard) guard = { ...guard, ...(ck.state.guard as Partial<GuardState>) };
  };
  const resumed = loadLatestCheckpoint(cfg.out, log);
  if (resumed && !deps.resume)
    throw new Error(
      `${cfg.out} already holds checkpoints: pass --resume to continue it, or choose another --out`,
    );
  if (resumed) {
    restore(resumed);
    truncateJsonlAfterStep(metricsPath, start);
    log(`resuming ${cfg.out} from step ${start}`);
  }
  const ref = cfg.algo.kl_coef > 0 && deps.loadReference ? deps.loadReference() : null;
  const terms = parseRewardSpec(cfg.reward);
  const totalSteps = cfg.steps;
  const warmupSteps = Math.round(cfg.optim.warmup_ratio * totalSteps);
  const pad = deps.codec.padId ?? deps.codec.eosId;
  const checkpoint = (step: number) => {
    const dir = saveCheckpoint(cfg.out, model, opt, { step, best, guard }, { keep: cfg.keep_checkpoints });
    return dir;
  };

  if (start === 0 && deps.evaluate) {
    const ev = await deps.evaluate(model, 0);
    appendJsonLine(metricsPath, { step: 0, eval: ev });
    deps.onStep?.({ step: 0, eval: ev as unknown as Record<string, unknown> });
    best = { score: ev.greedy_accuracy, step: 0 };
    checkpoint(0);
    pinCheckpoint(cfg.out, join(cfg.out, "checkpoints", "step-0000000"));
  }

  let stoppedBy: TrainResult["stoppedBy"] = "steps";
  let step = start;
  /** NaN/Inf at `at`: stop, or roll back to the newest checkpoint and skip the batch. */
  const onNonFinite = (at: number, what: string): "stop" | "skip" => {
    const msg = `step ${at + 1}: non-finite ${what}`;
    if (cfg.on_nan === "stop") {
      log(`${msg}. Stopped; the last checkpoint in ${cfg.out}/checkpoints is intact.`);
      appendJsonLine(metricsPath, { step: at + 1, event: "nan-stop" });
      stoppedBy = "nan";
      return "stop";
    }
    const ck = loadLatestCheckpoint(cfg.out, log);
    if (!ck) throw new Error(`${msg}, and there is no checkpoint to roll back to`);
    log(`${msg}. Rolled back to step ${ck.state.step} and skipped this batch.`);
    restore(ck);
    appendJsonLine(metricsPath, { step: at + 1, event: "nan-rollback", to_step: ck.state.step });
    return "skip";
  };
  for (; step < totalSteps; step++) {
    const t0 = performance.now();
    const prompts = promptsForStep(deps.prompts, cfg.rollout.prompts_per_step, cfg.seed, step);
    const rng = new Random(mixSeed(cfg.seed, step, 1));
    const rollouts = await collectRollouts(model, deps.codec, prompts, {
      groupSize: cfg.rollout.group_size,
      temperature: cfg.rollout.temperature,
      topP: cfg.rollout.top_p,
      maxNewTokens: cfg.rollout.max_new_tokens,
      batchSize: cfg.rollout.batch_size,
      rng,
    });
    const t1 = performance.now();
    const bad = rollouts.findIndex(
      (r) => !allFinite(r.logp) || !allFinite(r.entropy) || !allFinite(r.selfCertainty),
    );
    if (bad >= 0) {
      if (onNonFinite(step, `log-probabilities while sampling (rollout ${bad})`) === "stop") break;
      continue;
    }
    const rewards = computeRewards(rollouts, { terms, mode: cfg.reward_mode }, { grade: deps.grade });
    let trainReward: ArrayLike<number> = rewards.train;
    if (ref && cfg.algo.kl_coef > 0 && cfg.algo.kl_in_reward) {
      const refLp = noGrad(() =>
        rollouts.map((r) =>
          tidy(() => {
            const ids = Int32Array.from([...r.promptIds, ...r.responseIds]);
            const z = op.scale(ref.forward(ids, 1, ids.length), 1 / cfg.rollout.temperature);
            const tg = new Int32Array(ids.length).fill(-1);
            for (let j = 0; j < r.responseIds.length; j++) tg[r.promptIds.length + j - 1] = r.responseIds[j];
            const lp = op.column(op.tokenStats(z, tg), 0).readSync();
            return Float32Array.from(r.responseIds.map((_, j) => lp[r.promptIds.length + j - 1]));
          }),
        ),
      );
      trainReward = klInReward(
        rewards.train,
        rollouts.map((r) => r.logp),
        refLp,
        cfg.algo.kl_coef,
      );
    }
    const groups = rollouts.map((r) => r.group);
    const adv = computeAdvantages(cfg.algo.advantage, trainReward, groups, {
      normalizeStd: cfg.algo.normalize_std,
      whiten: cfg.algo.whiten,
    });
    const t2 = performance.now();

    // --- policy updates: epochs x mini-batches over the rollout batch ---
    const lr = learningRate(step, {
      lr: cfg.optim.lr,
      totalSteps,
      warmupSteps,
      minLrRatio: cfg.optim.min_lr_ratio,
      kind: cfg.optim.schedule,
    });
    const mbSize = Math.ceil(rollouts.length / cfg.algo.mini_batches);
    const ups: UpdateStats[] = [];
    let trainTokens = 0;
    try {
      for (let e = 0; e < cfg.algo.epochs; e++) {
        // The first pass of a single mini-batch keeps rollout order; later ones are shuffled.
        const order =
          e > 0 || cfg.algo.mini_batches > 1
            ? new Random(mixSeed(cfg.seed, step, 100 + e)).permutation(rollouts.length)
            : Array.from({ length: rollouts.length }, (_, i) => i);
        for (let m = 0; m < rollouts.length; m += mbSize) {
          const idx = order.slice(m, m + mbSize);
          const mb = idx.map((i) => rollouts[i]);
          trainTokens += mb.reduce((a, r) => a + r.promptIds.length + r.responseIds.length, 0);
          ups.push(
            update(
              model,
              ref,
              opt,
              mb,
              Float64Array.from(idx.map((i) => adv[i])),
              cfg,
              lr,
              pad,
              cfg.rollout.max_new_tokens,
            ),
          );
        }
      }
    } catch (err) {
      if (!(err instanceof NonFiniteError)) throw err;
      if (onNonFinite(step, err.message) === "stop") break;
      continue;
    }
    const t3 = performance.now();

    // --- metrics ---
    const done = step + 1;
    const sampledTokens = rollouts.reduce((a, r) => a + r.responseIds.length, 0);
    const m: StepMetrics = { step: done, lr };
    const corr = rewards.values.correctness;
    for (const [name, vals] of Object.entries(rewards.values)) {
      const nums = vals.filter((v): v is number => v !== null);
      m[`reward/${name}`] = nums.length ? mean(nums) : null;
    }
    m["reward/train"] = mean(trainReward);
    m.accuracy = corr ? mean(corr.map((v) => v ?? 0)) : null;
    m.empty_responses = rewards.empty.length;
    for (const name of INTERNAL) {
      m[`corr/${name}~correctness`] = corr ? pointBiserial(rewards.values[name], corr) : null;
    }
    for (let i = 0; i < INTERNAL.length; i++)
      for (let j = i + 1; j < INTERNAL.length; j++)
        m[`corr/${INTERNAL[i]}~${INTERNAL[j]}`] = pearson(
          rewards.values[INTERNAL[i]],
          rewards.values[INTERNAL[j]],
        );
    const a = summarize(adv);
    m.adv_mean = a.mean;
    m.adv_std = a.std;
    m.adv_zero_frac = mean(Array.from(adv, (x) => (x === 0 ? 1 : 0)));
    for (const k of Object.keys(ups[0] ?? {}) as (keyof UpdateStats)[]) m[k] = mean(ups.map((u) => u[k]));
    Object.assign(m, rolloutMetrics(rollouts, deps));
    m.time_rollout_s = (t1 - t0) / 1000;
    m.time_reward_s = (t2 - t1) / 1000;
    m.time_update_s = (t3 - t2) / 1000;
    m.sample_tokens_per_s = (sampledTokens * 1000) / (t1 - t0);
    m.train_tokens_per_s = (trainTokens * 1000) / (t3 - t2);

    let evalSummary: EvalSummary | null = null;
    if (deps.evaluate && ((cfg.eval.every > 0 && done % cfg.eval.every === 0) || done === totalSteps)) {
      evalSummary = await deps.evaluate(model, done);
      m.eval = evalSummary as unknown as Record<string, unknown>;
    }

    // --- guard: entropy and reflection collapse (the paper's practical advice) ---
    let guardFired = false;
    if (cfg.guard.mode !== "off") {
      const H = m.mean_token_entropy as number;
      const tr = m.transitional_rate as number;
      const b = guard.baseline;
      if (guard.initialEntropy === null || guard.initialTransitional === null) {
        b.n++;
        b.entropy += H;
        b.transitional += tr;
        if (b.n >= cfg.guard.baseline_steps) {
          guard.initialEntropy = b.entropy / b.n;
          guard.initialTransitional = b.transitional / b.n;
        }
      } else {
        const lowH = H < (1 - cfg.guard.entropy_drop) * guard.initialEntropy;
        const lowT =
          guard.initialTransitional > 0 && tr < (1 - cfg.guard.transitional_drop) * guard.initialTransitional;
        guard.strikes = lowH || lowT ? guard.strikes + 1 : 0;
      }
      if (
        guard.initialEntropy !== null &&
        guard.initialTransitional !== null &&
        guard.strikes >= cfg.guard.patience
      ) {
        guardFired = true;
        m.guard = `fired: entropy ${H.toFixed(3)} (start ${guard.initialEntropy.toFixed(3)}), transitional ${tr.toFixed(2)} (start ${guard.initialTransitional.toFixed(2)})`;
      }
    }
    appendJsonLine(metricsPath, m);
    deps.onStep?.(m);

    if (evalSummary && evalSummary.greedy_accuracy > best.score) {
      best = { score: evalSummary.greedy_accuracy, step: done };
      pinCheckpoint(cfg.out, checkpoint(done));
    } else if (done % cfg.checkpoint_every === 0 || done === totalSteps) checkpoint(done);

    if (guardFired) {
      log(`guard: ${m.guard}`);
      if (cfg.guard.mode === "stop" || cfg.guard.mode === "rollback") {
        if (!(done % cfg.checkpoint_every === 0)) checkpoint(done);
        stoppedBy = "guard";
        if (cfg.guard.mode === "rollback" && best.step >= 0) {
          const dir = join(cfg.out, "checkpoints", `step-${String(best.step).padStart(7, "0")}`);
          model = loadCheckpointDir(dir).model;
          log(`guard: rolled back to the best checkpoint (step ${best.step}, accuracy ${best.score})`);
          appendJsonLine(metricsPath, { step: done, event: "guard-rollback", to_step: best.step });
        }
        step = done;
        break;
      }
      guard.strikes = 0;
    }
  }
  return { model, stoppedBy, lastStep: Math.min(step, totalSteps) };
}
