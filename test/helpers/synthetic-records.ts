// Synthetic per-problem evaluation records (evals.jsonl lines) with planted effects: each problem
// has a fixed difficulty, each (seed, step) an accuracy shift, and samples are Bernoulli draws,
// so the verdict rules can be checked against known truths.

import type { ProblemLine } from "../../src/analysis/records.ts";
import { splitRecords } from "../../src/analysis/records.ts";
import type { ConditionRecords, RunRecords } from "../../src/analysis/verdicts.ts";
import { Random } from "../../src/engine/random.ts";

export interface PlantedRun {
  /** Accuracy shift (probability points) at each evaluated step; step 0 must be 0. */
  shift: Record<number, number>;
  /** Separate validation shift (defaults to the test one). */
  valShift?: Record<number, number>;
  /** Shift of the samples' mean token entropy and transitional rate by step. */
  entropyShift?: Record<number, number>;
  transitionalShift?: Record<number, number>;
  /** Steps evaluated on test (default: every step of `shift`). */
  testSteps?: number[];
}

export interface PlantOptions {
  problems?: number;
  k?: number;
  /** Base accuracy of the problems (each problem gets its own around it). */
  base?: number;
  seed?: number;
}

const clamp01 = (x: number) => Math.min(1, Math.max(0, x));

/** Lines of one run: every step of `shift` on val, `testSteps` on test. */
export function plantRun(run: PlantedRun, o: PlantOptions & { runSeed: number }): ProblemLine[] {
  const P = o.problems ?? 200;
  const k = o.k ?? 8;
  const base = o.base ?? 0.4;
  // Problem difficulties depend on the world seed only: every run sees the same problems.
  const world = new Random(o.seed ?? 1);
  const pBase = Array.from({ length: P }, () => clamp01(base + 0.3 * (world.next() - 0.5) * 2));
  const rng = new Random(1000 + o.runSeed * 7919 + (o.seed ?? 1));
  const lines: ProblemLine[] = [];
  const steps = Object.keys(run.shift).map(Number);
  for (const split of ["val", "test"] as const) {
    const shifts = split === "val" ? (run.valShift ?? run.shift) : run.shift;
    const evalSteps = split === "test" ? (run.testSteps ?? steps) : steps;
    for (const step of evalSteps) {
      for (let p = 0; p < P; p++) {
        const q = clamp01(pBase[p] + (shifts[step] ?? 0));
        let correct = 0;
        for (let j = 0; j < k; j++) if (rng.next() < q) correct++;
        lines.push({
          step,
          split,
          id: `${split}-${p}`,
          greedy: rng.next() < q ? 1 : 0,
          greedy_cut: 0,
          k,
          correct,
          cut: 0,
          entropy: 0.2 + (run.entropyShift?.[step] ?? 0) + 0.05 * rng.normal(),
          transitional: 2 + (run.transitionalShift?.[step] ?? 0) + 0.5 * rng.normal(),
        });
      }
    }
  }
  return lines;
}

export function plantCondition(
  reward: string,
  run: PlantedRun,
  seeds: number[],
  o: PlantOptions & { group?: ConditionRecords["group"]; alpha?: number; salt?: number } = {},
): ConditionRecords {
  const steps = Object.keys(run.shift).map(Number);
  const final = Math.max(...steps);
  const runs: RunRecords[] = seeds.map((seed) => {
    const lines = plantRun(run, { ...o, runSeed: seed * 31 + (o.salt ?? reward.length) });
    return { seed, final, ...splitRecords(lines) };
  });
  return { group: o.group ?? "base", reward, alpha: o.alpha, runs };
}
