// Which organism a study runs on, and the study settings that belong to the organism rather than
// to the profile: v2's solutions are longer (hedges, reflection, drift), so its rollouts need more
// tokens, and its learning rate was chosen by RLVR trials on the validation split
// (docs/organism.md, "Organism v2"). Profiles keep seeds, steps, batch and evaluation sizes.

import type { Profile } from "./profiles.ts";

export interface OrganismStudy {
  base: string;
  instruct: string;
  /** The profile as this organism runs it. */
  adjust(p: Profile): Profile;
}

export const ORGANISM_STUDIES = {
  v1: { base: "organism-base", instruct: "organism-instruct", adjust: (p: Profile) => p },
  v2: {
    // The κ = 0 build: with the corpus's third draft it is the v2 base that learned to read its
    // prompts (κ = 1 had not, after three pretraining cycles: docs/organism.md).
    base: "organism-v2-k0",
    instruct: "organism-v2-instruct",
    adjust: (p: Profile): Profile => ({
      ...p,
      lr: V2_LR,
      // At 48 steps RLVR was still rising (+7.5 pts); a 96-step trial on validation reached +10.8
      // (docs/organism.md, "Why RLVR was weak"), so the full profile runs 96 to have its control.
      steps: p.name === "full" ? V2_FULL_STEPS : p.steps,
      // The trials ran 16 prompts × 8 samples; the full profile takes that batch, the quick one
      // keeps its own to stay within its time budget.
      rollout: {
        ...p.rollout,
        max_new_tokens: 192,
        prompts_per_step: p.name === "full" ? 16 : p.rollout.prompts_per_step,
      },
    }),
  },
} satisfies Record<string, OrganismStudy>;

export type OrganismName = keyof typeof ORGANISM_STUDIES;

/** RLVR trials on organism:val-id (docs/organism.md, "Organism v2": 40 steps of 16 × 8 from the
 *  stage-1 v2 base; validation mean@8 14.3% → 18.4% at 3e-5, → 22.0% at 1e-4) chose it. */
const V2_LR = 1e-4;
/** RLVR for 96 steps on organism:val-id, 256 × 8: mean@8 14.8% → 25.7%, every 16-step evaluation
 *  above the last (docs/organism-v2/trials/v2k0-rlvr-96steps). */
const V2_FULL_STEPS = 96;

export function organismStudy(name: string): OrganismStudy {
  const o = (ORGANISM_STUDIES as Record<string, OrganismStudy>)[name];
  if (!o)
    throw new Error(
      `--organism: unknown organism "${name}" (valid: ${Object.keys(ORGANISM_STUDIES).join(", ")})`,
    );
  return o;
}
