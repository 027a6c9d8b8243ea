// The RL trainer. One step runs four stages with typed hand-offs:
//   collect (rollout.ts) -> score (score.ts) -> optimize (optimize.ts) -> observe (observe.ts, guard.ts)
// inside the run loop every trainer shares (train/run.ts: resume, checkpoints, NaN roll-back).
// Everything random is a pure function of (seed, step), so a resumed run repeats exactly what an
// uninterrupted one would have done.

import { EVALS_FILE } from "../analysis/records.ts";
import type { TextCodec } from "../eval/evaluate.ts";
import { evaluationDue, type HeldOutResult, selectionScore, testDue } from "../eval/held-out.ts";
import type { Grader } from "../grading/index.ts";
import { type CheckpointState, listCheckpoints, loadCheckpointDir } from "../model/checkpoint.ts";
import type { Transformer } from "../model/transformer.ts";
import { runSteps, TrainingRun } from "../train/run.ts";
import { STEP_LOGS } from "../train/run-folder.ts";
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
  /** Held-out evaluation of the sets due at a step (eval/held-out.ts): the test set is logged as
   *  `eval`, the validation set as `val`; both write per-problem lines to evals.jsonl. Every choice
   *  (best checkpoint, rollback target) reads validation only. */
  evaluate?: (model: Transformer, step: number, due: { test: boolean }) => Promise<HeldOutResult[]>;
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
  /** Best validation accuracy so far and its step (that checkpoint is pinned); step −1 when the
   *  run has no validation set. */
  best: { score: number; step: number };
  guard: GuardState;
  /** While the guard counts low steps: the newest checkpoint before the first of them, pinned as the
   *  label-free rollback target (null otherwise). */
  preStrike: number | null;
}

function restoreRlState(saved: CheckpointState, cur: RlState): RlState {
  return {
    best: (saved.best as RlState["best"] | undefined) ?? cur.best,
    guard: saved.guard ? { ...cur.guard, ...(saved.guard as Partial<GuardState>) } : cur.guard,
    preStrike: typeof saved.preStrike === "number" ? saved.preStrike : null,
  };
}

/** Trains `initial` (which the run owns from here on: a model it replaces is freed) and returns
 *  the model it ends with, the caller's to free. */
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
    state: {
      best: { score: Number.NEGATIVE_INFINITY, step: -1 },
      guard: initialGuardState(),
      preStrike: null,
    },
    restoreState: restoreRlState,
    keep: cfg.keep_checkpoints,
    stepLogs: [...STEP_LOGS, EVALS_FILE],
    log,
  });
  if (run.resumed) log(`resuming ${cfg.out} from step ${run.start}`);
  let ref: Transformer | null = null;
  let failed = true;
  try {
    ref = cfg.algo.kl_coef > 0 && deps.loadReference ? deps.loadReference() : null;
    const result = await trainSteps(run, cfg, deps, ref, log);
    failed = false;
    return result;
  } finally {
    ref?.dispose();
    run.close({ failed });
  }
}

async function trainSteps(
  run: TrainingRun<RlState>,
  cfg: TrainConfig,
  deps: TrainerDeps,
  ref: Transformer | null,
  log: (msg: string) => void,
): Promise<TrainResult> {
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

  /** Runs the evaluations due at `step`, writes their per-problem lines, returns the summaries. */
  const heldOut = async (step: number) => {
    if (!deps.evaluate || !evaluationDue(cfg, step)) return null;
    const results = await deps.evaluate(run.model, step, { test: testDue(cfg, step) });
    for (const r of results) for (const l of r.lines) run.appendLog(EVALS_FILE, l);
    const of = (split: string) => results.find((r) => r.split === split)?.summary;
    return { test: of("test"), val: of("val") };
  };

  // A run resumed from its step-0 checkpoint has step 0 logged already.
  if (!run.resumed) {
    const ev = await heldOut(0);
    if (ev) {
      const m = { step: 0, ...(ev.test ? { eval: ev.test } : {}), ...(ev.val ? { val: ev.val } : {}) };
      run.appendMetrics(m);
      deps.onStep?.(m as unknown as StepMetrics);
      await run.checkpoint(0);
      if (ev.val) {
        run.state.best = { score: selectionScore(ev.val), step: 0 };
        pinTargets(run);
      }
    }
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
    const ev = await heldOut(done);
    if (ev?.test) m.eval = ev.test as unknown as Record<string, unknown>;
    if (ev?.val) m.val = ev.val as unknown as Record<string, unknown>;
    const fired = guardStep(
      run.state.guard,
      cfg.guard,
      m.mean_token_entropy as number,
      m.transitional_rate as number,
    );
    if (fired) m.guard = fired;
    run.appendMetrics(m);
    deps.onStep?.(m);

    // The first low step of a run of them fixes the label-free target; a recovery releases it.
    // Pins change before this step's checkpoint is written, so its pruning spares them.
    const st = run.state;
    const pre = st.preStrike;
    if (st.guard.strikes === 0) st.preStrike = null;
    else if (st.guard.strikes === 1) st.preStrike = labelFreeTarget(cfg.out, done);
    if (st.preStrike !== pre) pinTargets(run);
    if (ev?.val && selectionScore(ev.val) > st.best.score) {
      st.best = { score: selectionScore(ev.val), step: done };
      await run.checkpoint(done);
      pinTargets(run);
    } else if (done % cfg.checkpoint_every === 0 || done === cfg.steps) await run.checkpoint(done);

    if (!fired) return "next";
    log(`guard: ${fired}`);
    if (cfg.guard.mode === "warn") {
      run.state.guard.strikes = 0;
      return "next";
    }
    // Both rollback targets are recorded (the study reports what each keeps); neither reads test.
    if (done % cfg.checkpoint_every !== 0) await run.checkpoint(done);
    const signalsTarget = run.state.preStrike;
    const b = run.state.best;
    const valTarget = b.step >= 0 ? b.step : null;
    const to = cfg.guard.rollback_to === "validation" && valTarget !== null ? valTarget : signalsTarget;
    if (cfg.guard.mode === "rollback" && to !== null) {
      run.replaceModel(loadCheckpointDir(run.checkpointDir(to)).model);
      log(
        to === valTarget
          ? `guard: rolled back to the checkpoint with the best validation accuracy (step ${to}, ${b.score.toFixed(3)})`
          : `guard: rolled back to the newest checkpoint before the signals fell (step ${to}; label-free)`,
      );
      run.appendMetrics({
        step: done,
        event: "guard-rollback",
        to_step: to,
        validation_target: valTarget,
        signals_target: signalsTarget,
      });
    }
    guardStopped = true;
    return "stop";
  });
  const stoppedBy = guardStopped ? "guard" : result.stoppedBy === "nan" ? "nan" : "steps";
  return { model: run.model, stoppedBy, lastStep: Math.min(result.step, cfg.steps) };
}

/** The pinned checkpoints: the best by validation and the label-free target, when they exist. */
function pinTargets(run: TrainingRun<RlState>): void {
  const { best, preStrike } = run.state;
  run.pin(...[best.step, preStrike].flatMap((s) => (s !== null && s >= 0 ? [run.checkpointDir(s)] : [])));
}

/** The label-free rollback target: the newest checkpoint kept that was written before `firstLow`,
 *  the first step of the low-signal steps (null when there is none). */
function labelFreeTarget(out: string, firstLow: number): number | null {
  const steps = listCheckpoints(out).map((d) => Number(/step-(\d+)$/.exec(d)?.[1]));
  const before = steps.filter((s) => s < firstLow);
  return before.length ? Math.max(...before) : null;
}
