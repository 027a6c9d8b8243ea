// Measures the numbers of the organism's model card (docs/organism.md): for the base and the
// instruct model, on the held-out splits, greedy accuracy, mean accuracy over k samples at
// temperature 1, entropy, length, transitional words, and how often reflection occurs and fixes
// an error. Usage: node --import tsx scripts/organism-card.ts [--limit 256] [--k 4] [--out FILE]

import { parseArgs } from "node:util";
import { initBackend } from "../src/cli/backend.ts";
import { Random } from "../src/engine/random.ts";
import { evaluate } from "../src/eval/evaluate.ts";
import { loadProblems, makeGrader, withTemplate } from "../src/eval/sources.ts";
import { openModel } from "../src/model/open.ts";
import { readSolution } from "../src/tasks/corpus.ts";
import { hasReflection, transitionalRate } from "../src/tasks/transitional.ts";
import { writeFileAtomic } from "../src/util/fs.ts";

const { values } = parseArgs({
  options: {
    limit: { type: "string", default: "256" },
    k: { type: "string", default: "4" },
    out: { type: "string", default: "docs/organism-eval.json" },
    models: { type: "string", default: "organism-base,organism-instruct" },
  },
});
await initBackend("auto");
const limit = Number(values.limit);
const k = Number(values.k);
const rows: Record<string, unknown>[] = [];
for (const name of values.models!.split(",")) {
  const { model, codec, kind } = openModel(name);
  for (const split of ["test-id", "test-ood"]) {
    const source = `organism:${split}`;
    const problems = withTemplate(loadProblems(source, limit), kind);
    const t0 = performance.now();
    const { records, summary } = await evaluate(model, codec, problems, {
      k,
      temperature: 1,
      topP: 1,
      maxNewTokens: 200,
      batchSize: 128,
      rng: new Random(0),
      grade: makeGrader(source),
      transitionalRate,
      hasReflection,
    });
    const samples = records.flatMap((r) => r.samples);
    const readings = samples.map((s) => ({ s, r: readSolution(s.text) }));
    const withReflection = readings.filter((x) => x.r.reflections > 0);
    const afterWrong = readings.reduce((a, x) => a + x.r.fixes + x.r.missedFixes, 0);
    const fixes = readings.reduce((a, x) => a + x.r.fixes, 0);
    const acc = (xs: typeof readings) =>
      xs.length ? xs.filter((x) => x.s.correct).length / xs.length : Number.NaN;
    const row = {
      model: name,
      split,
      n: problems.length,
      greedy_accuracy: summary.greedy_accuracy,
      mean_at_k: summary.mean_at_k,
      k,
      mean_token_entropy: summary.sampled!.mean_token_entropy,
      greedy_token_entropy: summary.greedy.mean_token_entropy,
      response_length: summary.sampled!.mean_response_length,
      transitional_rate: summary.sampled!.transitional_rate,
      reflection_frac: withReflection.length / samples.length,
      reflections_after_wrong_step: afterWrong,
      reflection_fix_rate: afterWrong ? fixes / afterWrong : Number.NaN,
      accuracy_with_reflection: acc(withReflection),
      accuracy_without_reflection: acc(readings.filter((x) => x.r.reflections === 0)),
      wrong_step_frac: readings.filter((x) => x.r.wrongSteps > 0).length / samples.length,
      seconds: (performance.now() - t0) / 1000,
    };
    rows.push(row);
    console.error(JSON.stringify(row));
  }
}
const pct = (x: unknown) => (typeof x === "number" && Number.isFinite(x) ? `${(100 * x).toFixed(1)}%` : "-");
const f = (x: unknown, d = 2) => (typeof x === "number" && Number.isFinite(x) ? x.toFixed(d) : "-");
console.log(
  `| model | split | n | greedy acc | mean@${k} (T=1) | token entropy (sampled / greedy) | length | transitional /100w | reflecting | reflection fixes a wrong step | acc with / without reflection |`,
);
console.log("|---|---|---|---|---|---|---|---|---|---|---|");
for (const r of rows)
  console.log(
    `| ${r.model} | ${r.split} | ${r.n} | ${pct(r.greedy_accuracy)} | ${pct(r.mean_at_k)} | ${f(r.mean_token_entropy, 3)} / ${f(r.greedy_token_entropy, 3)} | ${f(r.response_length, 1)} | ${f(r.transitional_rate)} | ${pct(r.reflection_frac)} | ${pct(r.reflection_fix_rate)} (${r.reflections_after_wrong_step}) | ${pct(r.accuracy_with_reflection)} / ${pct(r.accuracy_without_reflection)} |`,
  );
writeFileAtomic(values.out!, `${JSON.stringify({ date: new Date().toISOString(), rows }, null, 2)}\n`);
process.exit(0);
