// The study's plan: every training run of a profile, in the order they are trained, with its
// config and folder; and the plan.json that ties a study folder to its settings.

import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { conditionName, methodOf, type RunGroup, type RunInfo } from "../analysis/conditions.ts";
import { validateConfig } from "../cli/options.ts";
import { type TrainConfig, TrainConfigSchema } from "../rl/config.ts";
import { readJsonFile, writeFileAtomic } from "../util/fs.ts";
import { deepMerge } from "../util/merge.ts";
import type { MixSpec } from "./mix.ts";
import type { MethodSpec, Profile } from "./profiles.ts";

export interface PlannedRun extends RunInfo {
  cfg: TrainConfig;
  /** Guard runs end early by design (mode rollback). */
  guardEnds: boolean;
  /** Mixing runs need their model written first. */
  mix?: MixSpec;
  /** Set on the mixing path's α = 0 entry: the same run as the base condition's, trained there. */
  sharedWith?: RunGroup;
}

export interface StudyOptions {
  out: string;
  base: string;
  instruct: string;
  profile: Profile;
}

/** What sets one run apart; everything else comes from the profile. */
interface RunSpec {
  id: string;
  group: RunGroup;
  model: string;
  reward: string;
  seed: number;
  /** Config fields beyond the profile's (a guard; a method's algorithm or reward options), merged
   *  into it key by key. */
  extra?: Record<string, unknown>;
  method?: string;
  candidate?: string;
}

function runConfig(o: StudyOptions, r: RunSpec): TrainConfig {
  const p = o.profile;
  const profileConfig = {
    model: r.model,
    out: join(o.out, "runs", r.id),
    seed: r.seed,
    steps: p.steps,
    reward: r.reward,
    rollout: { ...p.rollout, batch_size: p.rollout.prompts_per_step * p.rollout.group_size },
    optim: { lr: p.lr },
    eval: {
      source: "organism:test-id",
      limit: p.eval.test.limit,
      k: p.eval.test.k,
      every: p.eval.every,
      test_steps: String(p.eval.earlyStep),
    },
    val: { source: "organism:val-id", limit: p.eval.val.limit, k: p.eval.val.k },
    checkpoint_every: p.eval.every,
    // Every evaluation step's checkpoint stays, so the test set can be evaluated afterwards at the
    // steps validation chooses (the peak, a guard's rollback targets).
    keep_checkpoints: Math.floor(p.steps / p.eval.every) + 2,
  };
  return validateConfig(TrainConfigSchema, deepMerge(profileConfig, r.extra ?? {}), `study run ${r.id}`);
}

function plannedRun(o: StudyOptions, r: RunSpec, more: Partial<PlannedRun> = {}): PlannedRun {
  const cfg = runConfig(o, r);
  const { id, group, model, reward, seed } = r;
  return {
    id,
    group,
    model,
    reward,
    seed,
    ...methodOf(r),
    steps: o.profile.steps,
    dir: cfg.out,
    cfg,
    guardEnds: false,
    ...more,
  };
}

/** Every run of the study, in the order they are trained. */
export function planStudy(o: StudyOptions): PlannedRun[] {
  const p = o.profile;
  const runs: PlannedRun[] = [];
  for (const seed of p.seeds)
    for (const reward of p.baseRewards)
      runs.push(plannedRun(o, { id: `base-${reward}-s${seed}`, group: "base", model: o.base, reward, seed }));
  for (const seed of p.seeds)
    for (const reward of p.instructRewards)
      runs.push(
        plannedRun(o, {
          id: `instruct-${reward}-s${seed}`,
          group: "instruct",
          model: o.instruct,
          reward,
          seed,
        }),
      );
  // Mixing path: each mixed model is prompted with the template it answers best (chosen on training
  // problems when the model is written, see ensureMixModel in mix.ts). α = 0 is the base model
  // itself, so its self-certainty run of the same seed is the base condition's run.
  for (const alpha of p.alphas)
    for (const seed of p.seeds.slice(0, p.mixSeeds)) {
      const shared = runs.find((r) => r.id === `base-self-certainty-s${seed}`);
      if (alpha === 0 && shared) {
        runs.push({ ...shared, group: "mix", alpha: 0, sharedWith: "base" });
        continue;
      }
      const model = join(o.out, "models", `mix-a${alpha}`);
      const spec = {
        id: `mix-a${alpha}-s${seed}`,
        group: "mix",
        model,
        reward: "self-certainty",
        seed,
      } as const;
      runs.push(plannedRun(o, spec, { alpha, mix: { base: o.base, instruct: o.instruct, alpha } }));
    }
  if (p.guard) {
    const { rewards, ...thresholds } = p.guard;
    const seed = p.seeds[0];
    for (const reward of rewards) {
      const extra = { guard: { mode: "rollback", ...thresholds } };
      const spec = {
        id: `guard-${reward}-s${seed}`,
        group: "guard",
        model: o.base,
        reward,
        seed,
        extra,
      } as const;
      runs.push(plannedRun(o, spec, { guardEnds: true }));
    }
  }
  // Added after the paper's runs, so a study started before them keeps its order.
  for (const seed of p.seeds)
    for (const m of p.methods ?? [])
      for (const spec of methodRuns(o, m, seed)) runs.push(plannedRun(o, spec));
  return runs;
}

/** A method's runs of one seed: one, or one per candidate setting that validation chooses among. */
function methodRuns(o: StudyOptions, m: MethodSpec, seed: number): RunSpec[] {
  const one = (candidate?: { label: string; config: Record<string, unknown> }): RunSpec => {
    const who = { reward: m.reward, method: m.name, ...(candidate ? { candidate: candidate.label } : {}) };
    return {
      id: `base-${conditionName(who)}-s${seed}`,
      group: "base",
      model: o.base,
      seed,
      ...who,
      extra: candidate ? deepMerge(m.config, candidate.config) : m.config,
    };
  };
  return m.candidates?.length ? m.candidates.map(one) : [one()];
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
 *  skip "finished" runs made under other settings and mix them into one report. Conditions may be
 *  added, never changed: the profile the folder holds from now on is returned, its old conditions
 *  plus `now`'s (a study begun with `--rewards correctness` grows into the full one, and a later
 *  `--rewards self-certainty` adds to it rather than hiding the control). */
export function checkSameStudy(
  planPath: string,
  now: { profile: Profile; base: string; instruct: string },
): Profile {
  if (!existsSync(planPath)) return now.profile;
  let old: Record<string, unknown>;
  try {
    old = readJsonFile(planPath);
  } catch (e) {
    throw new Error(`unreadable study plan: ${(e as Error).message}; move it away to start the study afresh`);
  }
  const before = (old.profile ?? {}) as Profile;
  const diff = jsonDiff(
    { profile: fixedPart(before, now.profile), base: old.base, instruct: old.instruct },
    { profile: fixedPart(now.profile, before), base: now.base, instruct: now.instruct },
  );
  if (diff.length)
    throw new Error(
      `${dirname(planPath)} holds a study with other settings (${diff.join(", ")} differ): ` +
        "use another --out, or delete that folder to start again",
    );
  return grownProfile(before, now.profile);
}

/** What a study folder may not change: everything but its lists of conditions, plus the settings
 *  of the methods both profiles have (a method's runs keep the config they were trained with). */
function fixedPart(p: Profile, other: Profile): Record<string, unknown> {
  const { baseRewards: _b, instructRewards: _i, methods, guard, ...rest } = p;
  // By name: a folder grown by `--rewards` / `--methods` holds its methods in the order they came.
  const shared = (methods ?? [])
    .filter((m) => other.methods?.some((o) => o.name === m.name))
    .sort((a, b) => a.name.localeCompare(b.name));
  let thresholds: Record<string, unknown> | undefined;
  if (guard && other.guard) {
    const { rewards: _r, ...t } = guard;
    thresholds = t;
  }
  return { ...rest, methods: shared, guard: thresholds };
}

/** The old profile's conditions, then `now`'s new ones (the old keep their order, so their runs keep
 *  their place in the plan). */
export function grownProfile(old: Profile, now: Profile): Profile {
  const union = (a: string[] | undefined, b: string[]) => [...(a ?? []), ...b.filter((x) => !a?.includes(x))];
  const methods = [
    ...(old.methods ?? []),
    ...(now.methods ?? []).filter((m) => !old.methods?.some((o) => o.name === m.name)),
  ];
  const guard =
    old.guard && now.guard
      ? { ...now.guard, rewards: union(old.guard.rewards, now.guard.rewards) }
      : (old.guard ?? now.guard);
  return {
    ...now,
    baseRewards: union(old.baseRewards, now.baseRewards),
    instructRewards: union(old.instructRewards, now.instructRewards),
    guard,
    ...(old.methods || now.methods ? { methods } : {}),
  };
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
