// Paired gains of single runs between two evaluation steps, from their per-problem records
// (evals.jsonl): e.g. the learning-rate trials of docs/organism.md, whose held-out set is the
// validation split. One seed, so the interval is a bootstrap over problems only.
// Usage: node --import tsx scripts/run-gains.ts RUN_DIR... [--from 0] [--to last]

import { parseArgs } from "node:util";
import { metricValue, type ProblemMetric, readProblemLines } from "../src/analysis/records.ts";
import { pairedBootstrap } from "../src/analysis/statistics.ts";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { from: { type: "string", default: "0" }, to: { type: "string", default: "last" } },
});
const pts = (x: number) => `${x >= 0 ? "+" : ""}${(100 * x).toFixed(1)}`;
console.log("| run | held-out ids | metric | step a → b | at a | at b | gain [95% CI] | n |");
console.log("| --- | --- | --- | --- | --- | --- | --- | --- |");
for (const dir of positionals) {
  const lines = readProblemLines(dir).filter((l) => !l.why);
  const steps = [...new Set(lines.map((l) => l.step))].sort((a, b) => a - b);
  const from = Number(values.from);
  const to = values.to === "last" ? steps[steps.length - 1]! : Number(values.to);
  const at = (s: number) => new Map(lines.filter((l) => l.step === s).map((l) => [l.id, l]));
  const [a, b] = [at(from), at(to)];
  const ids = [...a.keys()].filter((id) => b.has(id));
  for (const m of ["sampled", "greedy"] as ProblemMetric[]) {
    const va = ids.map((id) => metricValue(a.get(id)!, m));
    const vb = ids.map((id) => metricValue(b.get(id)!, m));
    const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
    const iv = pairedBootstrap([ids.map((_, i) => vb[i]! - va[i]!)], { resamples: 2000, seed: 1 });
    console.log(
      `| ${dir.split("/").pop()} | ${ids[0]?.replace(/-\d+-\d+$/, "")} | ${m} | ${from} → ${to} | ${(100 * mean(va)).toFixed(1)}% | ${(100 * mean(vb)).toFixed(1)}% | ${pts(iv.estimate)} [${pts(iv.lo)}, ${pts(iv.hi)}] | ${ids.length} |`,
    );
  }
}
