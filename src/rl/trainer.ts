// The RL trainer. One step runs four stages with typed hand-offs:
//   collect (rollout.ts) -> score (score.ts) -> optimize (optimize.ts) -> observe (observe.ts, guard.ts)
// inside the run loop every trainer shares (train/run.ts: resume, checkpoints, NaN roll-back).
// Everything random is a pure function of (seed, step), so a resumed run repeats exactly what an
// uninterrupted one would have done.

import type { EvalSummary, TextCodec } from "../eval/evaluate.ts";
import type { Grader } from "../grading/index.ts";
import { type CheckpointState, loadCheckpointDir } from "../model/checkpoint.ts";
import type { Transformer } from "../model/transformer.ts";
import { runSteps, TrainingRun } from "../train/run.ts";
import { rewardTerms, type TrainConfig } from "./config.ts";
import { gatherGroups } from "./dynamic-sampling.ts";
import { type GuardState, guardStep, initialGuardState } from "./guard.ts";
import { type StepMetrics, stepMetrics } from "./observe.ts";
import { type OptimizeSettings, optimize } from "./optimize.ts";
import { collect, type PromptItem } from "./rollout.ts";
import { advantagesFor, type ScoreSettings, scoreRewards } from "./score.ts";

export type { StepMetrics } from "./observe.ts";

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
  /** Start over from step 0, moving cfg.out's checkpoints and metrics aside. */
  restart?: boolean;
}

export interface TrainResult {
  model: Transformer;
  stoppedBy: "steps" | "guard" | "nan";
  lastStep: number;
}

/** What an RL checkpoint holds besides the model and optimizer. */
interface RlState {
  /** Best held-out greedy accuracy so far and its step (that checkpoint is pinned). */
  best: { score: number; step: number };
  guard: GuardState;
}

function restoreRlState(saved: CheckpointState, cur: RlState): RlState {
  return {
    best: (saved.best as RlState["best"] | undefined) ?? cur.best,
    guard: saved.guard ? { ...cur.guard, ...(saved.guard as Partial<GuardState>) } : cur.guard,
  };
}

export async function trainRl(
  initial: Transformer,
  cfg: TrainConfig,
  deps: TrainerDeps,
): Promise<TrainResult> {
  const log = deps.log ?? ((m: string) => console.error(m));
  const run = TrainingRun.open<RlState>(initial, {
    out: cfg.out,
    adam: { lr: cfg.optim.lr, weightDecay: cfg.optim.weight_decay },
    resume: deps.resume,
    restart: deps.restart,
    state: { best: { score: Number.NEGATIVE_INFINITY, step: -1 }, guard: initialGuardState() },
    restoreState: restoreRlState,
    keep: cfg.keep_checkpoints,
    log,
  });
  if (run.resumed) log(`resuming ${cfg.out} from step ${run.start}`);
  try {
    return await trainSteps(run, cfg, deps, log);
  } finally {
    run.close();
  }
}

async function trainSteps(
  run: TrainingRun<RlState>,
  cfg: TrainConfig,
  deps: TrainerDeps,
  log: (msg: string) => void,
): Promise<TrainResult> {
  const ref = cfg.algo.kl_coef > 0 && deps.loadReference ? deps.loadReference() : null;
  const pad = deps.codec.padId ?? deps.codec.eosId;
  const scoring: ScoreSettings = {
    terms: rewardTerms(cfg),
    mode: cfg.reward_mode,
    grade: deps.grade,
    algo: cfg.algo,
    rewardOptions: cfg.reward_options,
    groupSize: cfg.rollout.group_size,
    maxNewTokens: cfg.rollout.max_new_tokens,
    seed: cfg.seed,
    temperature: cfg.rollout.temperature,
    ref,
    pad,
  };
  const optimizing: OptimizeSettings = {
    algo: cfg.algo,
    temperature: cfg.rollout.temperature,
    gradClip: cfg.optim.grad_clip,
    maxLen: cfg.rollout.max_new_tokens,
    pad,
    seed: cfg.seed,
    schedule: {
      lr: cfg.optim.lr,
      totalSteps: cfg.steps,
      warmupSteps: Math.round(cfg.optim.warmup_ratio * cfg.steps),
      minLrRatio: cfg.optim.min_lr_ratio,
      kind: cfg.optim.schedule,
    },
  };

  // A run resumed from its step-0 checkpoint has step 0 logged already.
  if (!run.resumed && deps.evaluate) {
    const ev = await deps.evaluate(run.model, 0);
    run.appendMetrics({ step: 0, eval: ev });
    deps.onStep?.({ step: 0, eval: ev as unknown as Record<string, unknown> });
    run.state.best = { score: ev.greedy_accuracy, step: 0 };
    run.pin(await run.checkpoint(0));
  }

  let guardStopped = false;
  const result = await runSteps(run, cfg.steps, cfg.on_nan, async (step) => {
    const times = { collect: 0, score: 0, optimize: 0 };
    // collect + score, round after round while dynamic sampling asks for more groups
    const gathered = await gatherGroups(
      async (round) => {
        const t0 = performance.now();
        const rollouts = await collect(run.model, deps.codec, deps.prompts, cfg.rollout, {
          seed: cfg.seed,
          step,
          round,
        });
        const t1 = performance.now();
        const scoredRound = scoreRewards(rollouts, scoring, step);
        times.collect += t1 - t0;
        times.score += performance.now() - t1;
        return scoredRound;
      },
      { mode: cfg.algo.zero_std, target: cfg.rollout.prompts_per_step, maxRounds: cfg.algo.max_rounds },
    );
    const t1 = performance.now();
    const { trained, observed } = gathered;
    const scored = await advantagesFor(observed.rollouts, observed.rewards, scoring);
    const t2 = performance.now();
    times.score += t2 - t1;
    const policy = { model: run.model, opt: run.opt, ref };
    // nothing is trained on when every sampled group had equal rewards (zero_std drop / resample)
    const trainAdvantages = trained.rollouts.length ? scored.advantages : new Float64Array(0);
    const optimized = await optimize(policy, trained.rollouts, trainAdvantages, optimizing, step);
    times.optimize = performance.now() - t2;

    const done = step + 1;
    const m = stepMetrics({
      step: done,
      rollouts: observed.rollouts,
      ...scored,
      optimized,
      times,
      transitionalRate: deps.transitionalRate,
    });
    m.frac_reward_zero_std = gathered.fracZeroStd;
    m.sampling_rounds = gathered.rounds;
    m.groups_trained = gathered.groupsTrained;
    let evalSummary: EvalSummary | null = null;
    if (deps.evaluate && ((cfg.eval.every > 0 && done % cfg.eval.every === 0) || done === cfg.steps)) {
      evalSummary = await deps.evaluate(run.model, done);
      m.eval = evalSummary as unknown as Record<string, unknown>;
    }
    const fired = guardStep(
      run.state.guard,
      cfg.guard,
      m.mean_token_entropy as number,
      m.transitional_rate as number,
    );
    if (fired) m.guard = fired;
    run.appendMetrics(m);
    deps.onStep?.(m);

    const { best } = run.state;
    if (evalSummary && evalSummary.greedy_accuracy > best.score) {
      run.state.best = { score: evalSummary.greedy_accuracy, step: done };
      run.pin(await run.checkpoint(done));
    } else if (done % cfg.checkpoint_every === 0 || done === cfg.steps) await run.checkpoint(done);

    if (!fired) return "next";
    log(`guard: ${fired}`);
    if (cfg.guard.mode === "warn") {
      run.state.guard.strikes = 0;
      return "next";
    }
    if (done % cfg.checkpoint_every !== 0) await run.checkpoint(done);
    const b = run.state.best;
    if (cfg.guard.mode === "rollback" && b.step >= 0) {
      run.model = loadCheckpointDir(run.checkpointDir(b.step)).model;
      log(`guard: rolled back to the best checkpoint (step ${b.step}, accuracy ${b.score})`);
      run.appendMetrics({ step: done, event: "guard-rollback", to_step: b.step });
    }
    guardStopped = true;
    return "stop";
  });
  const stoppedBy = guardStopped ? "guard" : result.stoppedBy === "nan" ? "nan" : "steps";
  return { model: run.model, stoppedBy, lastStep: Math.min(result.step, cfg.steps) };
}
