// Rewards for a batch of rollouts: the training reward (a mixture of named rewards) and every
// registered reward for the metrics, with empty responses flagged.

import { groupNormalize } from "../util/groups.ts";
import { getReward, rewardNames } from "./registry.ts";
import type {
  RewardContext,
  RewardFn,
  RewardOptions,
  RewardResult,
  RewardSpec,
  SampledResponse,
} from "./types.ts";

function checkRollout(r: SampledResponse, i: number): void {
  const T = r.responseIds.length;
  for (const [what, v] of [
    ["logp", r.logp],
    ["entropy", r.entropy],
    ["selfCertainty", r.selfCertainty],
  ] as const)
    if (v.length !== T)
      throw new Error(`rollout ${i}: ${what} has ${v.length} values for ${T} response tokens`);
  if (!Number.isInteger(r.group)) throw new Error(`rollout ${i}: group must be an integer, got ${r.group}`);
}

function checkSpec(spec: RewardSpec): void {
  if (spec.terms.length === 0) throw new Error("reward spec has no terms");
  const mode = spec.mode ?? "weighted-sum";
  if (mode !== "weighted-sum" && mode !== "group-normalized-sum")
    throw new Error(`unknown reward mixture mode "${mode}"; valid: weighted-sum, group-normalized-sum`);
  const seen = new Set<string>();
  for (const t of spec.terms) {
    getReward(t.name); // unknown names fail here, listing the valid ones
    if (seen.has(t.name)) throw new Error(`reward "${t.name}" appears twice in the mixture`);
    seen.add(t.name);
    if (!Number.isFinite(t.weight)) throw new Error(`reward "${t.name}": weight must be a finite number`);
  }
}

/** Why a built-in reward can be unavailable. */
const NEEDS: Record<string, string> = {
  correctness: "a reference answer and a grader",
  "majority-vote": "a grader (answer extraction and equivalence)",
  "semantic-entropy": "a grader (answer extraction and equivalence)",
  random: "the run's seed and step",
};

/** Value of reward `name` for every rollout; 0 for empty responses (T = 0). */
function evaluate(
  name: string,
  rollouts: readonly SampledResponse[],
  ctx: RewardContext,
  options: RewardOptions,
) {
  const fn = getReward(name);
  const batch = typeof fn === "function" ? null : fn.batch(rollouts, ctx, options);
  if (batch && batch.length !== rollouts.length)
    throw new Error(`reward "${name}" gave ${batch.length} values for ${rollouts.length} rollouts`);
  return rollouts.map((r, i) => {
    if (r.responseIds.length === 0) return 0;
    const v = batch ? batch[i] : (fn as RewardFn)(r, ctx, options);
    if (v !== null && !Number.isFinite(v)) throw new Error(`reward "${name}" is ${v} for rollout ${i}`);
    return v;
  });
}

/**
 * The training reward per rollout under `spec`, plus every registered reward per rollout
 * (terms of the spec with the spec's options, the others with their defaults), and the
 * indices of empty responses.
 */
export function computeRewards(
  rollouts: readonly SampledResponse[],
  spec: RewardSpec,
  ctx: RewardContext = {},
): RewardResult {
  checkSpec(spec);
  rollouts.forEach(checkRollout);
  const optionsOf = new Map(spec.terms.map((t) => [t.name, t.options ?? {}]));
  const values: Record<string, (number | null)[]> = {};
  for (const name of rewardNames()) values[name] = evaluate(name, rollouts, ctx, optionsOf.get(name) ?? {});

  const groups = rollouts.map((r) => r.group);
  const train = new Float64Array(rollouts.length);
  for (const term of spec.terms) {
    const v = values[term.name];
    const missing = v.indexOf(null);
    if (missing >= 0)
      throw new Error(
        `reward "${term.name}" is not available for rollout ${missing}` +
          (NEEDS[term.name] ? ` (it needs ${NEEDS[term.name]})` : ""),
      );
    const r = v as number[];
    const x = spec.mode === "group-normalized-sum" ? groupNormalize(r, groups) : r;
    for (let i = 0; i < train.length; i++) train[i] += term.weight * x[i];
  }
  const empty: number[] = [];
  rollouts.forEach((r, i) => {
    if (r.responseIds.length === 0) empty.push(i);
  });
  return { train, values, empty };
}
