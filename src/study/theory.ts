// The theory checks of the study's starting models (analysis/theory.ts), cached in
// <out>/theory.json: each model is checked once; one not built yet is checked on a later call.

import { existsSync } from "node:fs";
import { join } from "node:path";
import { type TheoryResult, theoryChecks } from "../analysis/theory.ts";
import { loadProblems, makeGrader, withTemplate } from "../eval/sources.ts";
import { openModel, resolveModelDir } from "../model/open.ts";
import { readJsonFile, writeFileAtomic } from "../util/fs.ts";
import type { Profile } from "./profiles.ts";

const SOURCE = "organism:test-id";

async function theoryFor(name: string, profile: Profile, seed: number): Promise<TheoryResult> {
  const { model, codec, kind } = openModel(name);
  const grade = makeGrader(SOURCE);
  const problems = withTemplate(loadProblems(SOURCE, profile.theory.prompts), kind).map((p) => ({
    text: p.prompt,
    answer: p.answer,
  }));
  try {
    return await theoryChecks(model, codec, problems, {
      samplesPerPrompt: profile.theory.samples,
      maxNewTokens: profile.rollout.max_new_tokens,
      seed,
      grade: (t, g) => grade(t, g).correct,
    });
  } finally {
    model.dispose();
  }
}

/** The cached theory checks of a study folder. */
export function readTheory(out: string): Record<string, TheoryResult> {
  const path = join(out, "theory.json");
  return existsSync(path) ? readJsonFile<Record<string, TheoryResult>>(path) : {};
}

/** Check each labelled model that is built and not in the cache yet, saving after each. */
export async function updateTheory(
  out: string,
  theory: Record<string, TheoryResult>,
  models: [label: string, model: string][],
  profile: Profile,
  log: (m: string) => void,
): Promise<void> {
  for (const [label, model] of models) {
    if (theory[label]) continue;
    try {
      resolveModelDir(model);
    } catch {
      continue;
    }
    const t1 = performance.now();
    theory[label] = await theoryFor(model, profile, 0);
    writeFileAtomic(join(out, "theory.json"), `${JSON.stringify(theory, null, 2)}\n`);
    log(`theory checks (${label}): ${((performance.now() - t1) / 1000).toFixed(0)} s`);
  }
}
