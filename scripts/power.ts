// Power calculation for the study's paired design (docs/reproduce.md, "Power"): from pilot
// evaluations written by `rlif eval --out` (per-problem records on the same problems), estimate the
// per-problem standard deviation of a paired difference in sampled accuracy, split into problem
// heterogeneity and binomial sampling noise (which scales with 1/k), then print the minimum
// detectable effect at 80% power for candidate designs (seeds × problems × k).
//
//   node --import tsx scripts/power.ts --pair base0.json base1.json --pair base0.json rlvr0.json \
//     --sd-seed 0.03 [--designs 1x128x4,5x512x8]

import { readFileSync } from "node:fs";
import { minimumDetectableEffect } from "../src/analysis/statistics.ts";
import type { ProblemRecord } from "../src/eval/evaluate.ts";

interface EvalFile {
  model: string;
  k: number;
  results: Record<string, { records: ProblemRecord[] }>;
}

function load(path: string): { k: number; byId: Map<string, ProblemRecord> } {
  const f = JSON.parse(readFileSync(path, "utf8")) as EvalFile;
  const recs = Object.values(f.results).flatMap((r) => r.records);
  if (!f.k) throw new Error(`${path}: evaluated with k = 0 (no samples)`);
  return { k: f.k, byId: new Map(recs.map((r) => [r.id, r])) };
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const variance = (xs: number[]) => {
  const m = mean(xs);
  return xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1);
};

/** Per-problem paired difference of sampled accuracy, and its binomial part (unbiased p̂(1−p̂)·k/(k−1)/k per side). */
function pairStats(a: string, b: string) {
  const A = load(a);
  const B = load(b);
  const ids = [...A.byId.keys()].filter((id) => B.byId.has(id));
  const acc = (r: ProblemRecord) => r.samples.filter((s) => s.correct).length / r.samples.length;
  const binom = (r: ProblemRecord, k: number) => {
    const p = acc(r);
    return (p * (1 - p)) / (k - 1);
  };
  const d = ids.map((id) => acc(B.byId.get(id)!) - acc(A.byId.get(id)!));
  const noise = mean(ids.map((id) => binom(A.byId.get(id)!, A.k) + binom(B.byId.get(id)!, B.k)));
  const total = variance(d);
  // Binomial noise at k samples per side is Σ p(1−p)/k; its per-problem "unit" (k = 1) is noise·k.
  return {
    a,
    b,
    n: ids.length,
    k: A.k,
    meanDiff: mean(d),
    total,
    noiseUnit: noise * A.k,
    hetero: Math.max(0, total - noise),
  };
}

function arg(name: string): string[][] {
  const out: string[][] = [];
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) if (argv[i] === name) out.push(argv.slice(i + 1, i + 3));
  return out;
}
const single = (name: string, d: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : d;
};

const pairs = arg("--pair").map(([a, b]) => pairStats(a, b));
if (!pairs.length)
  throw new Error("give at least one --pair a.json b.json (rlif eval --out files with --k > 0)");
const sdSeed = Number(single("--sd-seed", "0.03"));
const designs = single("--designs", "1x128x4,1x256x8,3x512x8,5x512x8,8x512x8")
  .split(",")
  .map((d) => d.split("x").map(Number) as [number, number, number]);

console.log(
  "| pair | problems | k | mean difference | sd of difference | of which binomial | heterogeneity sd |",
);
console.log("| --- | --- | --- | --- | --- | --- | --- |");
for (const p of pairs)
  console.log(
    `| ${p.a} → ${p.b} | ${p.n} | ${p.k} | ${(100 * p.meanDiff).toFixed(1)} pts | ${Math.sqrt(p.total).toFixed(3)} | ${Math.sqrt(p.noiseUnit / p.k).toFixed(3)} | ${Math.sqrt(p.hetero).toFixed(3)} |`,
  );
// Plan with the largest heterogeneity and noise observed (a trained model moves problems unevenly).
const hetero = Math.max(...pairs.map((p) => p.hetero));
const unit = Math.max(...pairs.map((p) => p.noiseUnit));
console.log(
  `\nplanning values: heterogeneity sd ${Math.sqrt(hetero).toFixed(3)}, binomial variance ${unit.toFixed(3)}/k, seed sd ${sdSeed}`,
);
console.log(
  "\n| seeds × problems × k | sd per problem | minimum detectable effect (80% power, two-sided 5%) |",
);
console.log("| --- | --- | --- |");
for (const [S, P, k] of designs) {
  const sdProblem = Math.sqrt(hetero + unit / k);
  const mde = minimumDetectableEffect({ sdProblem, sdSeed: S > 1 ? sdSeed : 0, problems: P, seeds: S });
  console.log(
    `| ${S} × ${P} × ${k} | ${sdProblem.toFixed(3)} | ${(100 * mde).toFixed(1)} pts${S === 1 ? " (seed variation unmeasured)" : ""} |`,
  );
}
