// What RL did to the organism's answers: for each model (a start model and the final checkpoints
// of study runs), the share of the corpus's solution styles among samples at temperature 1, and
// per style the accuracy, the mean length, the share cut at the length limit, the mean token
// entropy and self-certainty. Internal rewards average over tokens, so a style whose tokens are
// more predictable earns more reward whatever its accuracy; this shows whether training moved the
// mass between styles, and what that did to accuracy.
//
// Usage: node --import tsx scripts/style-shift.ts [--limit 128] [--k 4] [--max-new-tokens 96]
//          [--out FILE.json] label=model-or-checkpoint ...

import { parseArgs } from "node:util";
import { initBackend } from "../src/cli/backend.ts";
import { Random } from "../src/engine/random.ts";
import { evaluate, type ResponseRecord } from "../src/eval/evaluate.ts";
import { loadProblems, makeGrader, withTemplate } from "../src/eval/sources.ts";
import { openModel } from "../src/model/open.ts";
import { solutionStyle } from "../src/tasks/corpus.ts";
import { hasReflection, transitionalRate } from "../src/tasks/transitional.ts";
import { writeFileAtomic } from "../src/util/fs.ts";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    limit: { type: "string", default: "128" },
    k: { type: "string", default: "4" },
    "max-new-tokens": { type: "string", default: "96" },
    threads: { type: "string", default: "1" },
    out: { type: "string" },
  },
});
if (!positionals.length) throw new Error("give at least one label=model argument");
await initBackend("auto", Number(values.threads));

const STYLES = ["terse", "verbose", "stepwise", "answer-only", "other"] as const;
const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : Number.NaN);

function byStyle(samples: ResponseRecord[]) {
  return Object.fromEntries(
    STYLES.map((st) => {
      const xs = samples.filter((s) => solutionStyle(s.text) === st);
      return [
        st,
        {
          share: xs.length / samples.length,
          accuracy: mean(xs.map((s) => (s.correct ? 1 : 0))),
          length: mean(xs.map((s) => s.length)),
          truncated: mean(xs.map((s) => (s.stopped ? 0 : 1))),
          entropy: mean(xs.map((s) => s.meanEntropy)),
          selfCertainty: mean(xs.map((s) => s.meanSelfCertainty)),
        },
      ];
    }),
  );
}

const rows: Record<string, unknown>[] = [];
for (const arg of positionals) {
  const [label, path] = arg.includes("=") ? arg.split("=", 2) : [arg, arg];
  const { model, codec, kind, folder: dir } = openModel(path);
  const source = "organism:test-id";
  const problems = withTemplate(loadProblems(source, Number(values.limit)), kind);
  const { records, summary } = await evaluate(model, codec, problems, {
    k: Number(values.k),
    temperature: 1,
    topP: 1,
    maxNewTokens: Number(values["max-new-tokens"]),
    batchSize: 128,
    rng: new Random(0),
    grade: makeGrader(source),
    transitionalRate,
    hasReflection,
  });
  const samples = records.flatMap((r) => r.samples);
  rows.push({
    label,
    model: dir,
    greedy_accuracy: summary.greedy_accuracy,
    greedy_style: solutionStyle(records[0]?.greedy.text ?? ""),
    greedy_styles: Object.fromEntries(
      STYLES.map((st) => [
        st,
        records.filter((r) => solutionStyle(r.greedy.text) === st).length / records.length,
      ]),
    ),
    mean_at_k: summary.mean_at_k,
    samples: samples.length,
    styles: byStyle(samples),
  });
  console.error(`${label}: done`);
}

const f = (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : "–");
console.log(
  `| model | greedy acc | sampled acc | ${STYLES.map((s) => `${s}: share / acc / cut / sc`).join(" | ")} |`,
);
console.log(`| --- | --- | --- | ${STYLES.map(() => "---").join(" | ")} |`);
for (const r of rows) {
  const st = r.styles as Record<string, Record<string, number>>;
  console.log(
    `| ${r.label} | ${f(r.greedy_accuracy as number, 3)} | ${f(r.mean_at_k as number, 3)} | ${STYLES.map(
      (s) =>
        `${f(st[s].share)} / ${f(st[s].accuracy)} / ${f(st[s].truncated)} / ${f(st[s].selfCertainty, 1)}`,
    ).join(" | ")} |`,
  );
}
console.log("\nGreedy answers by style (share):");
for (const r of rows)
  console.log(
    `- ${r.label}: ${Object.entries(r.greedy_styles as Record<string, number>)
      .map(([s, v]) => `${s} ${f(v)}`)
      .join(", ")}`,
  );
if (values.out) writeFileAtomic(values.out, `${JSON.stringify(rows, null, 2)}\n`);
