// Per-problem evaluation records (`evals.jsonl`, beside a run's metrics.jsonl): one line per
// (step, split, problem) with the greedy correctness, the number of correct samples and the
// samples' response statistics. Every paired analysis of the study is computed from these lines,
// so it can be redone without re-running anything.

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { ProblemRecord } from "../eval/evaluate.ts";

/** Which held-out set an evaluation read: validation (for choices) or test (for reporting). */
export type EvalSplit = "val" | "test";

export interface ProblemLine {
  step: number;
  split: EvalSplit;
  id: string;
  /** Greedy response correct (0/1) and cut at the length limit (0/1). */
  greedy: number;
  greedy_cut: number;
  /** Samples drawn, correct, and cut at the length limit. */
  k: number;
  correct: number;
  cut: number;
  /** Means over the samples (0 when k = 0): token entropy, transitional-word rate per 100 words. */
  entropy: number;
  transitional: number;
  /** Why this evaluation ran: on the schedule, or afterwards at a step chosen on validation. */
  why?: string;
}

export const EVALS_FILE = "evals.jsonl";

const avg = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);

/** The lines of one evaluation, from the harness's per-problem records. */
export function problemLines(
  step: number,
  split: EvalSplit,
  records: ProblemRecord[],
  why?: string,
): ProblemLine[] {
  return records.map((r) => ({
    step,
    split,
    id: r.id,
    greedy: r.greedy.correct ? 1 : 0,
    greedy_cut: r.greedy.stopped ? 0 : 1,
    k: r.samples.length,
    correct: r.samples.filter((s) => s.correct).length,
    cut: r.samples.filter((s) => !s.stopped).length,
    entropy: avg(r.samples.map((s) => s.meanEntropy)),
    transitional: avg(r.samples.map((s) => s.transitionalRate)),
    ...(why ? { why } : {}),
  }));
}

const NUM_FIELDS = ["greedy", "greedy_cut", "k", "correct", "cut", "entropy", "transitional"] as const;

/** Parse evals.jsonl. Bad lines are errors naming file and line; a torn last line (a killed
 *  process) is dropped, as the trainer does on resume. A later line for the same
 *  (step, split, id) replaces an earlier one (a resumed run re-evaluates). */
export function parseProblemLines(text: string, source = EVALS_FILE): ProblemLine[] {
  const lines = text.split("\n");
  while (lines.length && !lines[lines.length - 1].trim()) lines.pop();
  const byKey = new Map<string, ProblemLine>();
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(line);
    } catch (e) {
      if (i === lines.length - 1) return;
      throw new Error(`${source}:${i + 1}: not valid JSON (${(e as Error).message})`);
    }
    const where = `${source}:${i + 1}`;
    if (typeof o !== "object" || o === null || Array.isArray(o))
      throw new Error(`${where}: expected a JSON object`);
    if (typeof o.step !== "number" || !Number.isInteger(o.step) || o.step < 0)
      throw new Error(`${where}: missing or invalid "step"`);
    if (o.split !== "val" && o.split !== "test") throw new Error(`${where}: "split" must be "val" or "test"`);
    if (typeof o.id !== "string") throw new Error(`${where}: missing "id"`);
    for (const f of NUM_FIELDS)
      if (typeof o[f] !== "number" || !Number.isFinite(o[f]))
        throw new Error(`${where}: missing or invalid "${f}"`);
    if ((o.correct as number) > (o.k as number) || (o.cut as number) > (o.k as number))
      throw new Error(`${where}: more correct or cut samples than k`);
    const p = o as unknown as ProblemLine;
    byKey.set(`${p.step}\u0000${p.split}\u0000${p.id}`, p);
  });
  return [...byKey.values()];
}

export function readProblemLines(runDir: string): ProblemLine[] {
  const path = join(runDir, EVALS_FILE);
  if (!existsSync(path)) return [];
  return parseProblemLines(readFileSync(path, "utf8"), path);
}

/** What a per-problem value is: the primary metric is sampled accuracy (mean@k), greedy the second. */
export type ProblemMetric = "sampled" | "greedy" | "entropy" | "transitional" | "truncated";

export function metricValue(l: ProblemLine, m: ProblemMetric): number {
  switch (m) {
    case "sampled":
      return l.k ? l.correct / l.k : Number.NaN;
    case "greedy":
      return l.greedy;
    case "entropy":
      return l.entropy;
    case "transitional":
      return l.transitional;
    case "truncated":
      return l.k ? l.cut / l.k : l.greedy_cut;
  }
}

/** One run's records of one split: step → (problem id → line). */
export class SplitRecords {
  private readonly bySteps = new Map<number, Map<string, ProblemLine>>();
  constructor(
    readonly split: EvalSplit,
    lines: readonly ProblemLine[],
  ) {
    for (const l of lines) {
      if (l.split !== split) continue;
      let m = this.bySteps.get(l.step);
      if (!m) this.bySteps.set(l.step, (m = new Map()));
      m.set(l.id, l);
    }
  }
  steps(): number[] {
    return [...this.bySteps.keys()].sort((a, b) => a - b);
  }
  has(step: number): boolean {
    return this.bySteps.has(step);
  }
  at(step: number): Map<string, ProblemLine> | undefined {
    return this.bySteps.get(step);
  }
  /** Mean of a metric over the problems evaluated at `step`. */
  mean(step: number, m: ProblemMetric): number | null {
    const at = this.bySteps.get(step);
    if (!at?.size) return null;
    let s = 0;
    for (const l of at.values()) s += metricValue(l, m);
    return s / at.size;
  }
}

/** Validation records: the only records a selection (peak step, rollback target) may read. The
 *  brand keeps test records out of selection code at compile time. */
export type ValRecords = SplitRecords & { readonly split: "val" };
export type TestRecords = SplitRecords & { readonly split: "test" };

export function splitRecords(lines: readonly ProblemLine[]): { val: ValRecords; test: TestRecords } {
  return {
    val: new SplitRecords("val", lines) as ValRecords,
    test: new SplitRecords("test", lines) as TestRecords,
  };
}

/** The problem ids present at every one of `cells` (runs × steps), sorted: the paired design needs
 *  each cell to have the same problems. */
export function commonProblems(cells: readonly (Map<string, ProblemLine> | undefined)[]): string[] {
  if (!cells.length || cells.some((c) => !c)) return [];
  const [first, ...rest] = cells as Map<string, ProblemLine>[];
  return [...first.keys()].filter((id) => rest.every((c) => c.has(id))).sort();
}

/**
 * Paired differences seeds × problems: row s is, for each common problem, metric(a_s) − metric(b_s),
 * where a_s and b_s are the two evaluations compared for seed s (e.g. a run at step t and the same
 * run at step 0; or a reward's run and RLVR's run of the same seed at step t). Returns null when
 * some seed lacks either evaluation or the cells share no problem.
 */
export function pairedGrid(
  pairs: readonly { a: Map<string, ProblemLine> | undefined; b: Map<string, ProblemLine> | undefined }[],
  m: ProblemMetric,
): number[][] | null {
  if (!pairs.length) return null;
  const ids = commonProblems(pairs.flatMap((p) => [p.a, p.b]));
  if (!ids.length) return null;
  return pairs.map(({ a, b }) => ids.map((id) => metricValue(a!.get(id)!, m) - metricValue(b!.get(id)!, m)));
}

/** A seeds × problems grid of one metric's level (not a difference), e.g. for a condition's start. */
export function levelGrid(
  cells: readonly (Map<string, ProblemLine> | undefined)[],
  m: ProblemMetric,
): number[][] | null {
  const ids = commonProblems(cells);
  if (!ids.length) return null;
  return cells.map((c) => ids.map((id) => metricValue(c!.get(id)!, m)));
}
