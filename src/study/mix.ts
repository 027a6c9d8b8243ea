// The mixing path's models: θ(α) = (1 − α)·θ_base + α·θ_instruct written as a model folder, each
// prompted with the template it answers best (chosen on training problems, never held-out ones).

import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { evaluate, greedyOnly, type TextCodec } from "../eval/evaluate.ts";
import { applyTemplate, loadProblems, makeGrader } from "../eval/sources.ts";
import { saveModel } from "../model/checkpoint.ts";
import { mixModels } from "../model/mix.ts";
import { copyTokenizerFiles, openModel } from "../model/open.ts";
import type { Transformer } from "../model/transformer.ts";
import type { PromptKind } from "../tasks/corpus.ts";
import { transitionalRate } from "../tasks/transitional.ts";
import { readJsonFile, writeFileAtomic } from "../util/fs.ts";

/** Problems the template of a mixed model is chosen on: training problems, never the held-out ones. */
export const TEMPLATE_CHOICE = { source: "organism:train", limit: 64, seed: 7 };

/** A model on the mixing path: base and instruct (folders or organism names) and α. */
export interface MixSpec {
  base: string;
  instruct: string;
  alpha: number;
}

/** What template-choice.json in a mixed model's folder records. */
export interface TemplateChoiceRecord {
  alpha: number;
  chosen: PromptKind;
  greedy_accuracy: Record<PromptKind, number>;
  on: typeof TEMPLATE_CHOICE;
}

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
  { base, instruct, alpha }: MixSpec,
  maxNewTokens: number,
): Promise<void> {
  if (existsSync(join(dir, "model.safetensors"))) return;
  const b = openModel(base);
  const i = openModel(instruct).model;
  const mixed = await mixModels(b.model, i, alpha);
  b.model.dispose();
  i.dispose();
  try {
    const problems = loadProblems(TEMPLATE_CHOICE.source, TEMPLATE_CHOICE.limit, TEMPLATE_CHOICE.seed);
    const acc = await templateAccuracy(mixed, b.codec, problems, maxNewTokens);
    const kind: PromptKind = acc.instruct > acc.base ? "instruct" : "base";
    mixed.config.rlif_kind = kind;
    mkdirSync(dir, { recursive: true });
    const record: TemplateChoiceRecord = { alpha, chosen: kind, greedy_accuracy: acc, on: TEMPLATE_CHOICE };
    writeFileAtomic(join(dir, "template-choice.json"), `${JSON.stringify(record, null, 2)}\n`);
    copyTokenizerFiles(b.folder, dir);
    // The weights last: their presence marks the folder complete.
    await saveModel(dir, mixed);
  } finally {
    mixed.dispose(); // a study process goes on to train many runs
  }
}

/** The template choice recorded in a mixed model's folder, or null when it is not written yet. */
export function readTemplateChoice(dir: string): TemplateChoiceRecord | null {
  const f = join(dir, "template-choice.json");
  return existsSync(f) ? readJsonFile<TemplateChoiceRecord>(f) : null;
}
