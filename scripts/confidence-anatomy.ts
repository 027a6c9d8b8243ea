// Where a base model's sampled errors come from, and what self-certainty sees of them (issue 11,
// docs/organism.md "Three drafts"): k samples per test-id problem at T = 1, grouped by the solution
// style the sample opened with, its manner (an equation spaced against its style's habit, or a
// hedge), whether it boxed an answer, and whether it wrote a wrong step; for each group the
// accuracy, the mean self-certainty and the share of wrong steps; then the within-group AUROC of
// self-certainty, over all samples and over worked, boxed samples only. Samples that cross-check
// their answer (organisms built with data.cross_check) are grouped by whether the check agreed.
// Usage: node --import tsx scripts/confidence-anatomy.ts [--model organism-v2-k0] [--limit 128] [--k 8] [--threads 1]
import { parseArgs } from "node:util";
import { withinGroupAuroc } from "../src/analysis/statistics.ts";
import { initBackend } from "../src/cli/backend.ts";
import { positiveIntFlag } from "../src/cli/options.ts";
import { Random } from "../src/engine/random.ts";
import { evaluate, type ResponseRecord } from "../src/eval/evaluate.ts";
import { loadProblems, makeGrader, withTemplate } from "../src/eval/sources.ts";
import { openModel } from "../src/model/open.ts";
import { readSolution, type SolutionReading, solutionStyle } from "../src/tasks/corpus.ts";
import { writesSloppily } from "../src/tasks/corpus-v2.ts";
import { transitionalRate } from "../src/tasks/transitional.ts";

const { values } = parseArgs({
  options: {
    model: { type: "string", default: "organism-v2-k0" },
    limit: { type: "string", default: "128" },
    k: { type: "string", default: "8" },
    threads: { type: "string", default: "1" },
  },
});
const [limit, k, threads] = [
  positiveIntFlag(values.limit!, "limit"),
  positiveIntFlag(values.k!, "k"),
  positiveIntFlag(values.threads!, "threads"),
];
await initBackend("auto", threads);
const { model, codec, kind } = openModel(values.model!);
const source = "organism:test-id";
const { records } = await evaluate(model, codec, withTemplate(loadProblems(source, limit), kind), {
  k,
  temperature: 1,
  topP: 1,
  maxNewTokens: 200,
  batchSize: 128,
  rng: new Random(0),
  grade: makeGrader(source),
  transitionalRate,
});

/** Whether a sample cross-checks its answer (organisms with data.cross_check), and whether the
 *  check's last value is the one its last step reached. */
function crossCheck(text: string): "none" | "agrees" | "disagrees" {
  const at = text.indexOf("Check:");
  if (at < 0) return "none";
  const steps = readSolution(text.slice(0, at)).equations.filter((e) => !e.inReflection);
  const check = readSolution(text.slice(at, text.indexOf(".", at) + 1 || undefined)).equations;
  if (!steps.length || !check.length) return "none";
  return steps.at(-1)!.value === check.at(-1)!.value ? "agrees" : "disagrees";
}
const worked = (style: string) => style !== "answer-only" && style !== "other";
const groups = new Map<string, { n: number; correct: number; sc: number; steps: number; wrong: number }>();
function add(key: string, s: ResponseRecord, r: SolutionReading) {
  const g = groups.get(key) ?? { n: 0, correct: 0, sc: 0, steps: 0, wrong: 0 };
  g.n++;
  g.correct += s.correct ? 1 : 0;
  g.sc += s.meanSelfCertainty;
  g.steps += r.steps;
  g.wrong += r.wrongSteps;
  groups.set(key, g);
}
// Within-group AUROC of self-certainty over all samples, and over worked, boxed samples only.
type Group = { scores: number[]; correct: boolean[] };
const aurocGroups: Record<"all" | "worked", Group[]> = { all: [], worked: [] };
const group = (xs: ResponseRecord[]): Group => ({
  scores: xs.map((s) => s.meanSelfCertainty),
  correct: xs.map((s) => s.correct),
});
for (const p of records) {
  for (const s of p.samples) {
    const style = solutionStyle(s.text);
    const r = readSolution(s.text);
    add(`style ${style}`, s, r);
    if (worked(style)) add(`manner ${writesSloppily(s.text, style) ? "sloppy" : "plain"}`, s, r);
    add(`boxed ${s.text.includes("\\boxed{") ? "yes" : "no"}`, s, r);
    add(`wrong step ${r.wrongSteps > 0 ? "yes" : "no"}`, s, r);
    add(`cross-check ${crossCheck(s.text)}`, s, r);
  }
  const ok = (s: ResponseRecord) => worked(solutionStyle(s.text)) && s.text.includes("\\boxed{");
  aurocGroups.all.push(group(p.samples));
  aurocGroups.worked.push(group(p.samples.filter(ok)));
}
console.log(`${values.model}: ${records.length} test-id problems × ${k} samples at T = 1\n`);
console.log(
  "| samples | n | accuracy | mean self-certainty | wrong steps / step |\n| --- | --- | --- | --- | --- |",
);
for (const [key, g] of [...groups].sort())
  console.log(
    `| ${key} | ${g.n} | ${((100 * g.correct) / g.n).toFixed(1)}% | ${(g.sc / g.n).toFixed(3)} | ${(g.wrong / Math.max(1, g.steps)).toFixed(3)} |`,
  );
const f = (gs: Group[]) => {
  const a = withinGroupAuroc(gs);
  return a ? `${a.auroc.toFixed(3)} (${a.pairs} pairs)` : "n/a (no group with both)";
};
console.log(
  `\nwithin-group AUROC of self-certainty: all samples ${f(aurocGroups.all)}; worked, boxed samples ${f(aurocGroups.worked)}`,
);
