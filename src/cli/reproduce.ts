// `rlif reproduce`: the paper's study on the organism (rlif-spec.md, "Findings"), then the HTML
// report and JSON summary. Every training run has its own folder; an interrupted study picks up
// where it stopped: finished runs are skipped, unfinished ones resume from their last checkpoint.

import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import type { Command } from "commander";
import type { LoadedRun, RunGroup, RunInfo } from "../analysis/conditions.ts";
import { mixModels } from "../analysis/mix.ts";
import { isFinished, readRun } from "../analysis/runs.ts";
import { type TheoryResult, theoryChecks } from "../analysis/theory.ts";
import { evaluate, greedyOnly, type TextCodec } from "../eval/evaluate.ts";
import {
  applyTemplate,
  loadCodec,
  loadProblems,
  makeGrader,
  modelKind,
  resolveModelDir,
} from "../eval/sources.ts";
import { loadModel, saveModel } from "../model/checkpoint.ts";
import type { Transformer } from "../model/transformer.ts";
import { renderReport } from "../report/build.ts";
import { type TrainConfig, TrainConfigSchema } from "../rl/config.ts";
import type { PromptKind } from "../tasks/corpus.ts";
import { transitionalRate } from "../tasks/transitional.ts";
import { readJsonFile, writeFileAtomic } from "../util/fs.ts";

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

export interface PlannedRun extends RunInfo {
  cfg: TrainConfig;
  /** Guard runs end early by design (mode rollback). */
  guardEnds: boolean;
  /** Mixing runs need their model written first. */
  mix?: { base: string; instruct: string; alpha: number };
  /** Set on the mixing path's α = 0 entry: the same run as the base condition's, trained there. */
  sharedWith?: RunGroup;
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
    eval: { limit: p.eval.limit, every: p.eval.every, k: p.eval.k },
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
  // Mixing path: each mixed model is prompted with the template it answers best (chosen on training
  // problems when the model is written, see ensureMixModel). α = 0 is the base model itself, so its
  // self-certainty run of the same seed is the base condition's run.
  for (const alpha of p.alphas)
    for (const seed of p.seeds.slice(0, p.mixSeeds)) {
      const shared = runs.find((r) => r.id === `base-self-certainty-s${seed}`);
      if (alpha === 0 && shared) {
        runs.push({ ...shared, group: "mix", alpha: 0, sharedWith: "base" });
        continue;
      }
      const model = join(o.out, "models", `mix-a${alpha}`);
      add(
        "mix",
        model,
        "self-certainty",
        seed,
        `mix-a${alpha}-s${seed}`,
        {},
        {
          alpha,
          mix: { base: o.base, instruct: o.instruct, alpha },
        },
      );
    }
  if (p.guard) {
    const { rewards, ...thresholds } = p.guard;
    for (const r of rewards)
      add(
        "guard",
        o.base,
        r,
        p.seeds[0],
        `guard-${r}-s${p.seeds[0]}`,
        { guard: { mode: "rollback", ...thresholds } },
        { guardEnds: true },
      );
  }
  return runs;
}

/** Problems the template of a mixed model is chosen on: training problems, never the held-out ones. */
const TEMPLATE_CHOICE = { source: "organism:train", limit: 64, seed: 7 };

/** Greedy accuracy of a model under each prompt template on `problems`. */
export async function templateAccuracy(
  model: Transformer,
  codec: TextCodec,
  problems: { problem: string; answer: string }[],
  maxNewTokens: number,
): Promise<Record<PromptKind, number>> {
  const grade = makeGrader(TEMPLATE_CHOICE.source);
  const out = {} as Record<PromptKind, number>;
  for (const kind of ["base", "instruct"] as const) {
    const { summary } = await evaluate(
      model,
      codec,
      problems.map((p, i) => ({ id: String(i), prompt: applyTemplate(p.problem, kind), answer: p.answer })),
      greedyOnly({ maxNewTokens, grade, transitionalRate }),
    );
    out[kind] = summary.greedy_accuracy;
  }
  return out;
}

/** Write a mixed model folder (weights + the base model's tokenizer files) unless it exists. The
 *  model is prompted with the template it answers best: greedy accuracy on 64 training problems
 *  under each template decides, recorded as rlif_kind in its config.json (read by template "auto")
 *  and in template-choice.json. A model in between base and instruct may answer in either format;
 *  prompting every α with one template would measure how well it follows that format instead. */
export async function ensureMixModel(
  dir: string,
  base: string,
  instruct: string,
  alpha: number,
  maxNewTokens: number,
): Promise<void> {
  if (existsSync(join(dir, "model.safetensors"))) return;
  const b = resolveModelDir(base);
  const mixed = mixModels(loadModel(b), loadModel(resolveModelDir(instruct)), alpha);
  const problems = loadProblems(TEMPLATE_CHOICE.source, TEMPLATE_CHOICE.limit, TEMPLATE_CHOICE.seed);
  const acc = await templateAccuracy(mixed, loadCodec(b), problems, maxNewTokens);
  const kind: PromptKind = acc.instruct > acc.base ? "instruct" : "base";
  mixed.config.rlif_kind = kind;
  mkdirSync(dir, { recursive: true });
  writeFileAtomic(
    join(dir, "template-choice.json"),
    `${JSON.stringify({ alpha, chosen: kind, greedy_accuracy: acc, on: TEMPLATE_CHOICE }, null, 2)}\n`,
  );
  for (const f of readdirSync(b))
    if (f.startsWith("tokenizer") || f === "special_tokens_map.json") copyFileSync(join(b, f), join(dir, f));
  // The weights last: their presence marks the folder complete.
  saveModel(dir, mixed);
}

/** Keys whose values differ between two JSON values, as dotted paths. */
export function jsonDiff(a: unknown, b: unknown, path = ""): string[] {
  if (a && b && typeof a === "object" && typeof b === "object" && !Array.isArray(a) && !Array.isArray(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].flatMap((k) =>
      jsonDiff(
        (a as Record<string, unknown>)[k],
        (b as Record<string, unknown>)[k],
        path ? `${path}.${k}` : k,
      ),
    );
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [path || "(root)"];
}

/** A study folder holds runs of one plan: resuming it with another profile or other models would
 *  skip "finished" runs made under other settings and mix them into one report. */
export function checkSameStudy(
  planPath: string,
  now: { profile: Profile; base: string; instruct: string },
): void {
  if (!existsSync(planPath)) return;
  let old: Record<string, unknown>;
  try {
    old = readJsonFile(planPath);
  } catch (e) {
    throw new Error(`unreadable study plan: ${(e as Error).message}; move it away to start the study afresh`);
  }
  const diff = jsonDiff({ profile: old.profile, base: old.base, instruct: old.instruct }, now);
  if (diff.length)
    throw new Error(
      `${dirname(planPath)} holds a study with other settings (${diff.join(", ")} differ): ` +
        "use another --out, or delete that folder to start again",
    );
}

/** The runs `--only` trains: a shared run (mix α = 0) belongs to the group that trains it. */
export function selectRuns(runs: PlannedRun[], only?: RunGroup[]): PlannedRun[] {
  return only ? runs.filter((r) => only.includes(r.sharedWith ?? r.group)) : runs;
}

/** Another live process is training this run (its lock names a running pid). */
function lockedByOther(lock: string): number | null {
  try {
    const pid = Number(readFileSync(lock, "utf8"));
    if (!Number.isInteger(pid) || pid === process.pid) return null;
    process.kill(pid, 0);
    return pid;
  } catch (e) {
    // EPERM: the process exists but belongs to another user. Otherwise: no lock, unreadable, or
    // its process is gone (a stale lock).
    return (e as NodeJS.ErrnoException).code === "EPERM" ? Number(readFileSync(lock, "utf8")) : null;
  }
}

/** Take a lock file unless a live process holds it; true when taken. */
export function takeLock(lock: string): boolean {
  mkdirSync(dirname(lock), { recursive: true });
  try {
    writeFileSync(lock, String(process.pid), { flag: "wx" });
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    if (lockedByOther(lock) !== null) return false;
    writeFileSync(lock, String(process.pid)); // stale: its owner died
    return true;
  }
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
    // Several `reproduce` processes on one study folder share the runs: each takes a run's lock.
    mkdirSync(r.dir, { recursive: true });
    const lock = join(r.dir, ".lock");
    if (!takeLock(lock)) {
      log(`${r.id}: being trained by process ${lockedByOther(lock)}, skipped`);
      out.push({ id: r.id, action: "skipped", seconds: 0 });
      continue;
    }
    const t0 = performance.now();
    let resume = false;
    try {
      if (r.mix) {
        const mixLock = `${r.model}.lock`;
        while (!takeLock(mixLock)) await new Promise((res) => setTimeout(res, 1000));
        try {
          await ensureMixModel(
            r.model,
            r.mix.base,
            r.mix.instruct,
            r.mix.alpha,
            r.cfg.rollout.max_new_tokens,
          );
        } finally {
          rmSync(mixLock, { force: true });
        }
      }
      resume = existsSync(join(r.dir, "checkpoints"));
      log(`${r.id}: ${resume ? "resuming" : "training"} (${r.steps} steps)`);
      await train(r.cfg, { quiet: true, resume });
    } finally {
      rmSync(lock, { force: true });
    }
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
  checkSameStudy(join(o.out, "plan.json"), { profile: o.profile, base: o.base, instruct: o.instruct });
  writeFileAtomic(
    join(o.out, "plan.json"),
    `${JSON.stringify({ profile: o.profile, base: o.base, instruct: o.instruct, runs: runs.map(({ cfg: _c, ...r }) => r) }, null, 2)}\n`,
  );
  const notes: string[] = [];
  // Seconds of training per run, kept across invocations (a resumed run adds to its time).
  const timingsPath = join(o.out, "timings.json");
  const timings: Record<string, number> = existsSync(timingsPath)
    ? readJsonFile<Record<string, number>>(timingsPath)
    : {};
  if (!o.reportOnly) {
    // Fail before any training when a model is missing (the error says how to build it).
    const selected = selectRuns(runs, o.only);
    resolveModelDir(o.base);
    if (selected.some((r) => r.group === "instruct" || r.mix)) resolveModelDir(o.instruct);
    const train = o.train ?? (await import("./train.ts")).runTraining;
    const done = await executeStudy(selected, train, log, (id, seconds) => {
      // Re-read first: another process on the same study may have added its runs.
      if (existsSync(timingsPath)) Object.assign(timings, readJsonFile(timingsPath));
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
    ? readJsonFile<Record<string, TheoryResult>>(theoryPath)
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
    `Profile ${p.name}: seeds ${p.seeds.join(", ")}; ${p.steps} steps; ${p.rollout.prompts_per_step} prompts × ${p.rollout.group_size} samples, ≤ ${p.rollout.max_new_tokens} new tokens; lr ${p.lr}; held-out evaluation on ${p.eval.limit} organism:test-id problems every ${p.eval.every} steps; mixing α ∈ {${p.alphas.join(", ")}} with self-certainty on ${Math.min(p.mixSeeds, p.seeds.length)} seed(s) (each mixed model prompted with the template it answers best on ${TEMPLATE_CHOICE.limit} training problems).`,
  );
  const mixModelDirs = new Map(runs.flatMap((r) => (r.mix ? [[r.mix.alpha, r.model] as const] : [])));
  const choices = [...mixModelDirs].flatMap(([a, dir]) => {
    const f = join(dir, "template-choice.json");
    if (!existsSync(f)) return [];
    const c = readJsonFile<{ chosen: string; greedy_accuracy: Record<PromptKind, number> }>(f);
    return [
      `α=${a}: ${c.chosen} (greedy accuracy base ${c.greedy_accuracy.base.toFixed(3)}, instruct ${c.greedy_accuracy.instruct.toFixed(3)})`,
    ];
  });
  if (choices.length)
    notes.push(
      `Prompt template of each mixed model (α = 0 is the base model with the base template): ${choices.join("; ")}.`,
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
      "run the paper's study on the organism (base: 4 rewards; instruct: self-certainty and correctness; " +
        "weight mixing; guard) and write <out>/report.html and <out>/summary.json. Re-running resumes: " +
        "finished runs are skipped, interrupted ones continue from their last checkpoint. Several processes " +
        "may share one --out (each run is locked while trained), e.g. one per core with --threads 1.",
    )
    .option("--quick", "the quick profile (1 seed, short runs; about 9 minutes on 2 cores)")
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
