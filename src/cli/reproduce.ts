// `rlif reproduce`: the paper's study on the organism (rlif-spec.md, "Findings"), then the HTML
// report and JSON summary. Every training run has its own folder; an interrupted study picks up
// where it stopped: finished runs are skipped, unfinished ones resume from their last checkpoint.

import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import type { LoadedRun, RunGroup, RunInfo } from "../analysis/conditions.ts";
import { mixModels } from "../analysis/mix.ts";
import { isFinished, readRun } from "../analysis/runs.ts";
import { type TheoryResult, theoryChecks } from "../analysis/theory.ts";
import {
  applyTemplate,
  loadCodec,
  loadProblems,
  makeGrader,
  modelKind,
  resolveModelDir,
} from "../eval/sources.ts";
import { loadModel, saveModel } from "../model/checkpoint.ts";
import { renderReport } from "../report/build.ts";
import { type TrainConfig, TrainConfigSchema } from "../rl/config.ts";
import { writeFileAtomic } from "../util/fs.ts";

export interface Profile {
  name: string;
  seeds: number[];
  steps: number;
  baseRewards: string[];
  instructRewards: string[];
  alphas: number[];
  /** How many of the seeds the mixing path runs on. */
  mixSeeds: number;
  guard: boolean;
  lr: number;
  rollout: { prompts_per_step: number; group_size: number; max_new_tokens: number };
  eval: { limit: number; every: number };
  theory: { prompts: number; samples: number };
}

const REWARDS = ["self-certainty", "token-entropy", "trajectory-entropy", "correctness"];

/** Quick: one seed, short runs, small batches, sized from measured runs on this 2-core machine
 *  (40–55 s per 24-step run on the organism; see docs/reproduce.md). Full: the study. */
export const PROFILES: Record<"quick" | "full", Profile> = {
  quick: {
    name: "quick",
    seeds: [0],
    steps: 24,
    baseRewards: REWARDS,
    instructRewards: ["self-certainty", "correctness"],
    alphas: [0, 0.5, 1],
    mixSeeds: 1,
    guard: true,
    lr: 1e-4,
    rollout: { prompts_per_step: 8, group_size: 4, max_new_tokens: 96 },
    eval: { limit: 64, every: 4 },
    theory: { prompts: 8, samples: 32 },
  },
  full: {
    name: "full",
    seeds: [0, 1, 2],
    steps: 60,
    baseRewards: REWARDS,
    instructRewards: ["self-certainty", "correctness"],
    alphas: [0, 0.25, 0.5, 0.75, 1],
    mixSeeds: 3,
    guard: true,
    lr: 5e-5,
    rollout: { prompts_per_step: 16, group_size: 8, max_new_tokens: 96 },
    eval: { limit: 128, every: 5 },
    theory: { prompts: 16, samples: 64 },
  },
};

export interface PlannedRun extends RunInfo {
  cfg: TrainConfig;
  /** Guard runs end early by design (mode rollback). */
  guardEnds: boolean;
  /** Mixing runs need their model written first. */
  mix?: { base: string; instruct: string; alpha: number };
}

export interface StudyOptions {
  out: string;
  base: string;
  instruct: string;
  profile: Profile;
}

function runConfig(
  o: StudyOptions,
  id: string,
  model: string,
  reward: string,
  seed: number,
  extra: Record<string, unknown> = {},
) {
  const p = o.profile;
  return TrainConfigSchema.parse({
    model,
    out: join(o.out, "runs", id),
    seed,
    steps: p.steps,
    reward,
    rollout: { ...p.rollout, batch_size: p.rollout.prompts_per_step * p.rollout.group_size },
    optim: { lr: p.lr },
    eval: { limit: p.eval.limit, every: p.eval.every },
    checkpoint_every: p.eval.every,
    ...extra,
  });
}

/** Every run of the study, in the order they are trained. */
export function planStudy(o: StudyOptions): PlannedRun[] {
  const p = o.profile;
  const runs: PlannedRun[] = [];
  const add = (
    group: RunGroup,
    model: string,
    reward: string,
    seed: number,
    id: string,
    extra = {},
    more: Partial<PlannedRun> = {},
  ) => {
    const cfg = runConfig(o, id, model, reward, seed, extra);
    runs.push({
      id,
      group,
      model,
      reward,
      seed,
      steps: p.steps,
      dir: cfg.out,
      cfg,
      guardEnds: false,
      ...more,
    });
  };
  for (const seed of p.seeds)
    for (const r of p.baseRewards) add("base", o.base, r, seed, `base-${r}-s${seed}`);
  for (const seed of p.seeds)
    for (const r of p.instructRewards) add("instruct", o.instruct, r, seed, `instruct-${r}-s${seed}`);
  // Mixing path: the base template for every α, so that only the weights change along it. α = 0 is
  // the base model itself, so its self-certainty run on seed 0 is the base condition's run.
  for (const alpha of p.alphas)
    for (const seed of p.seeds.slice(0, p.mixSeeds)) {
      const shared = runs.find((r) => r.id === `base-self-certainty-s${seed}`);
      if (alpha === 0 && shared) {
        runs.push({ ...shared, group: "mix", alpha: 0 });
        continue;
      }
      const model = join(o.out, "models", `mix-a${alpha}`);
      add(
        "mix",
        model,
        "self-certainty",
        seed,
        `mix-a${alpha}-s${seed}`,
        { data: { template: "base" } },
        {
          alpha,
          mix: { base: o.base, instruct: o.instruct, alpha },
        },
      );
    }
  if (p.guard)
    add(
      "guard",
      o.base,
      "self-certainty",
      p.seeds[0],
      `guard-self-certainty-s${p.seeds[0]}`,
      { guard: { mode: "rollback" } },
      { guardEnds: true },
    );
  return runs;
}

/** Write a mixed model folder (weights + the base model's tokenizer files) unless it exists. */
export function ensureMixModel(dir: string, base: string, instruct: string, alpha: number): void {
  if (existsSync(join(dir, "model.safetensors"))) return;
  const b = resolveModelDir(base);
  saveModel(dir, mixModels(loadModel(b), loadModel(resolveModelDir(instruct)), alpha));
  for (const f of readdirSync(b))
    if (f.startsWith("tokenizer") || f === "special_tokens_map.json") copyFileSync(join(b, f), join(dir, f));
}

export type Trainer = (cfg: TrainConfig, opts: { quiet?: boolean; resume?: boolean }) => Promise<unknown>;

/** Train every planned run that is not finished; returns what happened to each. */
export async function executeStudy(
  runs: PlannedRun[],
  train: Trainer,
  log: (msg: string) => void = console.error,
  onDone: (id: string, seconds: number) => void = () => {},
): Promise<{ id: string; action: "skipped" | "trained" | "resumed"; seconds: number }[]> {
  const done = new Set<string>();
  const out: { id: string; action: "skipped" | "trained" | "resumed"; seconds: number }[] = [];
  for (const r of runs) {
    if (done.has(r.dir)) continue; // a run shared by two conditions (mix α = 0)
    done.add(r.dir);
    if (isFinished(r.dir, r.steps, { guardEnds: r.guardEnds })) {
      log(`${r.id}: finished, skipped`);
      out.push({ id: r.id, action: "skipped", seconds: 0 });
      continue;
    }
    if (r.mix) ensureMixModel(r.model, r.mix.base, r.mix.instruct, r.mix.alpha);
    const resume = existsSync(join(r.dir, "checkpoints"));
    log(`${r.id}: ${resume ? "resuming" : "training"} (${r.steps} steps)`);
    const t0 = performance.now();
    await train(r.cfg, { quiet: true, resume });
    const seconds = (performance.now() - t0) / 1000;
    log(`${r.id}: done in ${seconds.toFixed(0)} s`);
    onDone(r.id, seconds);
    out.push({ id: r.id, action: resume ? "resumed" : "trained", seconds });
  }
  return out;
}

async function theoryFor(model: string, profile: Profile, seed: number): Promise<TheoryResult> {
  const dir = resolveModelDir(model);
  const m = loadModel(dir);
  const codec = loadCodec(dir);
  const grade = makeGrader("organism:test-id");
  const kind = modelKind(m.config);
  const problems = loadProblems("organism:test-id", profile.theory.prompts).map((p) => ({
    text: applyTemplate(p.problem, kind),
    answer: p.answer,
  }));
  return theoryChecks(m, codec, problems, {
    samplesPerPrompt: profile.theory.samples,
    maxNewTokens: profile.rollout.max_new_tokens,
    seed,
    grade: (t, g) => grade(t, g).correct,
  });
}

/** Load every planned run that has metrics (unstarted runs are left out of the report). */
export function loadStudyRuns(runs: PlannedRun[]): LoadedRun[] {
  return runs.flatMap((r) => {
    if (!existsSync(join(r.dir, "metrics.jsonl"))) return [];
    const { cfg: _c, guardEnds: _g, mix: _m, ...info } = r;
    return [{ ...info, metrics: readRun(r.dir) }];
  });
}

export async function reproduce(
  o: StudyOptions & {
    reportOnly?: boolean;
    /** Train only the runs of these groups (the report still shows every run that exists). */
    only?: RunGroup[];
    train?: Trainer;
    log?: (m: string) => void;
  },
) {
  const log = o.log ?? ((m: string) => console.error(m));
  mkdirSync(o.out, { recursive: true });
  const t0 = performance.now();
  const runs = planStudy(o);
  writeFileAtomic(
    join(o.out, "plan.json"),
    `${JSON.stringify({ profile: o.profile, base: o.base, instruct: o.instruct, runs: runs.map(({ cfg: _c, ...r }) => r) }, null, 2)}\n`,
  );
  const notes: string[] = [];
  // Seconds of training per run, kept across invocations (a resumed run adds to its time).
  const timingsPath = join(o.out, "timings.json");
  const timings: Record<string, number> = existsSync(timingsPath)
    ? JSON.parse(readFileSync(timingsPath, "utf8"))
    : {};
  if (!o.reportOnly) {
    // Fail before any training when a model is missing (the error says how to build it).
    const selected = o.only ? runs.filter((r) => o.only?.includes(r.group)) : runs;
    resolveModelDir(o.base);
    if (selected.some((r) => r.group === "instruct" || r.mix)) resolveModelDir(o.instruct);
    const train = o.train ?? (await import("./train.ts")).runTraining;
    const done = await executeStudy(selected, train, log, (id, seconds) => {
      timings[id] = (timings[id] ?? 0) + seconds;
      writeFileAtomic(timingsPath, `${JSON.stringify(timings, null, 2)}\n`);
    });
    const trained = done.filter((d) => d.action !== "skipped");
    if (trained.length)
      log(`trained ${trained.length} runs in ${trained.reduce((a, d) => a + d.seconds, 0).toFixed(0)} s`);
  }
  const ids = Object.keys(timings);
  if (ids.length)
    notes.push(
      `Training time: ${ids.reduce((a, k) => a + timings[k], 0).toFixed(0)} s over ${ids.length} runs (${ids.map((k) => `${k} ${timings[k].toFixed(0)} s`).join(", ")}).`,
    );
  // Theory checks per model, cached; a model that is not built yet is checked on a later call.
  const theoryPath = join(o.out, "theory.json");
  const theory: Record<string, TheoryResult> = existsSync(theoryPath)
    ? JSON.parse(readFileSync(theoryPath, "utf8"))
    : {};
  if (!o.reportOnly)
    for (const [label, model] of [
      ["base", o.base],
      ["instruct", o.instruct],
    ] as const) {
      if (theory[label]) continue;
      try {
        resolveModelDir(model);
      } catch {
        continue;
      }
      const t1 = performance.now();
      theory[label] = await theoryFor(model, o.profile, 0);
      writeFileAtomic(theoryPath, `${JSON.stringify(theory, null, 2)}\n`);
      log(`theory checks (${label}): ${((performance.now() - t1) / 1000).toFixed(0)} s`);
    }
  const p = o.profile;
  notes.push(
    `Profile ${p.name}: seeds ${p.seeds.join(", ")}; ${p.steps} steps; ${p.rollout.prompts_per_step} prompts × ${p.rollout.group_size} samples, ≤ ${p.rollout.max_new_tokens} new tokens; lr ${p.lr}; held-out evaluation on ${p.eval.limit} organism:test-id problems every ${p.eval.every} steps; mixing α ∈ {${p.alphas.join(", ")}} with self-certainty on ${Math.min(p.mixSeeds, p.seeds.length)} seed(s) (base prompt template along the path).`,
  );
  const { html, summary, markdown, headlineSvg } = await renderReport({
    profile: p.name,
    runs: loadStudyRuns(runs),
    theory,
    notes,
  });
  writeFileAtomic(join(o.out, "report.html"), html);
  writeFileAtomic(join(o.out, "summary.json"), `${JSON.stringify(summary, null, 2)}\n`);
  // For the README: the findings table and the base model's accuracy chart as separate files.
  writeFileAtomic(join(o.out, "findings.md"), markdown);
  if (headlineSvg) writeFileAtomic(join(o.out, "accuracy-base.svg"), headlineSvg);
  log(
    `wrote ${join(o.out, "report.html")} and summary.json (${((performance.now() - t0) / 1000).toFixed(0)} s)`,
  );
  return summary;
}

const GROUPS: RunGroup[] = ["base", "instruct", "mix", "guard"];

function parseGroups(s: string): RunGroup[] {
  const gs = s.split(",").map((x) => x.trim());
  for (const g of gs)
    if (!(GROUPS as string[]).includes(g))
      throw new Error(`--only: unknown group "${g}" (valid: ${GROUPS.join(", ")})`);
  return gs as RunGroup[];
}

export function registerReproduce(program: Command): void {
  program
    .command("reproduce")
    .description(
      "run the paper's study on the organism (base: 4 rewards; instruct: self-certainty and correctness;\n" +
        "weight mixing; guard) and write <out>/report.html and <out>/summary.json. Re-running resumes:\n" +
        "finished runs are skipped, interrupted ones continue from their last checkpoint.",
    )
    .option("--quick", "the quick profile (1 seed, short runs; about 15 minutes on 2 cores)")
    .option("--out <dir>", "study folder", "runs/reproduce")
    .option("--base <model>", "base model", "organism-base")
    .option("--instruct <model>", "instruct model", "organism-instruct")
    .option("--seeds <n>", "number of seeds (overrides the profile)")
    .option("--steps <n>", "RL steps per run (overrides the profile)")
    .option("--lr <x>", "RL learning rate (overrides the profile)")
    .option("--only <groups>", "train only these groups (comma list of base, instruct, mix, guard)")
    .option("--report-only", "only (re)write the report from the runs already in --out")
    .action(
      async (f: {
        quick?: boolean;
        out: string;
        base: string;
        instruct: string;
        seeds?: string;
        steps?: string;
        lr?: string;
        reportOnly?: boolean;
        only?: string;
      }) => {
        const profile: Profile = { ...PROFILES[f.quick ? "quick" : "full"] };
        const int = (s: string, name: string) => {
          const n = Number(s);
          if (!Number.isInteger(n) || n < 1)
            throw new Error(`--${name} must be a positive integer, got "${s}"`);
          return n;
        };
        if (f.seeds) profile.seeds = Array.from({ length: int(f.seeds, "seeds") }, (_, i) => i);
        if (f.steps) profile.steps = int(f.steps, "steps");
        if (f.lr) {
          profile.lr = Number(f.lr);
          if (!(profile.lr > 0)) throw new Error(`--lr must be a positive number, got "${f.lr}"`);
        }
        const s = await reproduce({
          out: f.out,
          base: f.base,
          instruct: f.instruct,
          profile,
          reportOnly: f.reportOnly,
          only: f.only ? parseGroups(f.only) : undefined,
        });
        for (const x of s.findings) console.log(`${x.id}: ${x.verdict} — ${x.observed}`);
      },
    );
}
