// Paired gains of single runs between two evaluation steps, from their per-problem records
// (evals.jsonl): e.g. the learning-rate trials of docs/organism.md, whose held-out set is the
// validation split. One seed, so the interval is a bootstrap over problems only.
// Usage: node --import tsx scripts/run-gains.ts RUN_DIR... [--from 0] [--to last]

import { parseArgs } from "node:util";
import {
  commonProblems,
  type ProblemMetric,
  pairedGrid,
  readProblemLines,
  SplitRecords,
} from "../src/analysis/records.ts";
import { pairedBootstrap } from "../src/analysis/statistics.ts";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { from: { type: "string", default: "0" }, to: { type: "string", default: "last" } },
});
const pts = (x: number) => `${x >= 0 ? "+" : ""}${(100 * x).toFixed(1)}`;
console.log("| run | held-out ids | metric | step a → b | at a | at b | gain [95% CI] | n |");
console.log("| --- | --- | --- | --- | --- | --- | --- | --- |");
for (const dir of positionals) {
  // The trials evaluate their held-out set as the run's "test" source (eval.source); the scheduled
  // evaluations only (no after-the-fact ones).
  const recs = new SplitRecords(
    "test",
    readProblemLines(dir).filter((l) => !l.why),
  );
  const steps = recs.steps();
  const from = Number(values.from);
  const to = values.to === "last" ? steps[steps.length - 1]! : Number(values.to);
  const [a, b] = [recs.at(from), recs.at(to)];
  for (const m of ["sampled", "greedy"] as ProblemMetric[]) {
    const grid = pairedGrid([{ a: b, b: a }], m);
    if (!grid) throw new Error(`${dir}: no problems evaluated at both step ${from} and step ${to}`);
    const ids = commonProblems([a, b]);
    const iv = pairedBootstrap(grid, { resamples: 2000, seed: 1 });
    const pct = (step: number) => `${(100 * recs.mean(step, m)!).toFixed(1)}%`;
    console.log(
      `| ${dir.split("/").pop()} | ${ids[0]?.replace(/-\d+-\d+$/, "")} | ${m} | ${from} → ${to} | ${pct(from)} | ${pct(to)} | ${pts(iv.estimate)} [${pts(iv.lo)}, ${pts(iv.hi)}] | ${ids.length} |`,
    );
  }
}
