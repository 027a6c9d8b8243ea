// The study's plan: every training run of a profile, in the order they are trained, with its
// config and folder; and the plan.json that ties a study folder to its settings.

import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import type { RunGroup, RunInfo } from "../analysis/conditions.ts";
import { type TrainConfig, TrainConfigSchema } from "../rl/config.ts";
import { readJsonFile, writeFileAtomic } from "../util/fs.ts";
import type { Profile } from "./profiles.ts";

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
  // problems when the model is written, see ensureMixModel in mix.ts). α = 0 is the base model itself, so its
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

/** Record the plan in <out>/plan.json (the runs without their configs). */
export function writePlan(o: StudyOptions, runs: PlannedRun[]): void {
  writeFileAtomic(
    join(o.out, "plan.json"),
    `${JSON.stringify({ profile: o.profile, base: o.base, instruct: o.instruct, runs: runs.map(({ cfg: _c, ...r }) => r) }, null, 2)}\n`,
  );
}
