// The report's notes on how the study was run: training time, the profile, and the prompt
// template each mixed model was given.

import { readTemplateChoice, TEMPLATE_CHOICE } from "./mix.ts";
import type { PlannedRun } from "./plan.ts";
import type { MethodSpec, Profile } from "./profiles.ts";
import type { Timings } from "./timings.ts";

export function timingNote(timings: Timings): string[] {
  const ids = Object.keys(timings);
  if (!ids.length) return [];
  return [
    `Training time: ${ids.reduce((a, k) => a + timings[k], 0).toFixed(0)} s over ${ids.length} runs (${ids.map((k) => `${k} ${timings[k].toFixed(0)} s`).join(", ")}).`,
  ];
}

/** Nested config as "a.b value" pairs, e.g. "algo.policy_loss unclipped". */
function dotted(o: Record<string, unknown>, at = ""): string[] {
  return Object.entries(o).flatMap(([k, v]) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? dotted(v as Record<string, unknown>, `${at}${k}.`)
      : [`${at}${k} ${String(v)}`],
  );
}

/** The methods beyond the paper with their settings (none in the quick profile). */
export function methodsNote(p: Profile): string[] {
  if (!p.methods?.length) return [];
  const one = (m: MethodSpec) =>
    `${m.name} (reward ${m.reward}${dotted(m.config)
      .map((x) => `, ${x}`)
      .join("")}${
      m.candidates
        ? `; chosen on validation among ${m.candidates.map((c) => `${c.label}: ${dotted(c.config).join(", ")}`).join(" / ")}`
        : ""
    })`;
  return [`Beyond the paper, on the base model with every seed: ${p.methods.map(one).join("; ")}.`];
}

export function profileNote(p: Profile): string {
  return `Profile ${p.name}: seeds ${p.seeds.join(", ")}; ${p.steps} steps; ${p.rollout.prompts_per_step} prompts × ${p.rollout.group_size} samples, ≤ ${p.rollout.max_new_tokens} new tokens; lr ${p.lr}; validation on ${p.eval.val.limit} organism:val-id problems (greedy + ${p.eval.val.k} samples) every ${p.eval.every} steps; test on ${p.eval.test.limit} organism:test-id problems (greedy + ${p.eval.test.k} samples) at step 0, the pre-registered early step ${p.eval.earlyStep}, the last step and the validation-chosen steps; smallest effect of interest δ = ${100 * p.delta} points; mixing α ∈ {${p.alphas.join(", ")}} with self-certainty on ${Math.min(p.mixSeeds, p.seeds.length)} seed(s) (each mixed model prompted with the template it answers best on ${TEMPLATE_CHOICE.limit} training problems).`;
}

/** The template chosen for each mixed model written so far (their folders come from the plan). */
export function templateNote(runs: PlannedRun[]): string[] {
  const mixModelDirs = new Map(runs.flatMap((r) => (r.mix ? [[r.mix.alpha, r.model] as const] : [])));
  const choices = [...mixModelDirs].flatMap(([a, dir]) => {
    const c = readTemplateChoice(dir);
    if (!c) return [];
    return [
      `α=${a}: ${c.chosen} (greedy accuracy base ${c.greedy_accuracy.base.toFixed(3)}, instruct ${c.greedy_accuracy.instruct.toFixed(3)})`,
    ];
  });
  if (!choices.length) return [];
  return [
    `Prompt template of each mixed model (α = 0 is the base model with the base template): ${choices.join("; ")}.`,
  ];
}
