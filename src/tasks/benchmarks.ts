// Benchmark problems from JSONL files (one `{"problem": …, "answer": …}` object per line). The
// benchmarks rlif ships (data/benchmarks, sources and licences in its README) go by short names.
// Bad lines are errors that name the file and the line; so is a file with no problems.

import { existsSync, readdirSync, statSync } from "node:fs";
import { basename, extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { fileLines, jsonlObjects } from "../util/jsonl.ts";

export interface BenchmarkProblem {
  id: string;
  problem: string;
  answer: string;
  source: string;
  /** Any other fields of the line (solution, level, subject, …), kept as they are. */
  [field: string]: unknown;
}

export interface BenchmarkFile {
  /** File name without `.jsonl` (e.g. `math500`). */
  name: string;
  path: string;
}

/** The longest problem statement accepted (characters; the shipped sets' longest is 1,962).
 *  Longer ones are rejected on reading: tokenizing them would cost seconds for a prompt no model
 *  here can hold. */
export const MAX_PROBLEM_CHARS = 20_000;

/** The folder of the shipped benchmark files. */
export const BENCHMARKS_DIR = fileURLToPath(new URL("../../data/benchmarks/", import.meta.url));

/** Short name -> file in BENCHMARKS_DIR, with what it is (for --help). */
export const SHIPPED_BENCHMARKS = {
  math500: { file: "math500.jsonl", about: "MATH-500, 500 problems" },
  gsm8k: { file: "gsm8k_test.jsonl", about: "GSM8K test, 1319 problems" },
  aime24: { file: "aime24.jsonl", about: "AIME 2024, 30 problems" },
  aime25: { file: "aime25.jsonl", about: "AIME 2025, 30 problems" },
  amc23: { file: "amc23.jsonl", about: "AMC 12 2023, 40 problems" },
  math_train: { file: "train.jsonl", about: "500 MATH train problems, a training pool" },
} as const satisfies Record<string, { file: string; about: string }>;

export const BENCHMARK_NAMES = Object.keys(SHIPPED_BENCHMARKS) as (keyof typeof SHIPPED_BENCHMARKS)[];

/** The path of a shipped benchmark's short name, else `source` itself (a file path). A bare word
 *  that is neither a name nor an existing file is an error listing the names. */
export function benchmarkPath(source: string, otherNames: readonly string[] = []): string {
  const shipped = (SHIPPED_BENCHMARKS as Record<string, { file: string }>)[source];
  if (shipped) return join(BENCHMARKS_DIR, shipped.file);
  const looksLikePath = source.includes("/") || source.includes("\\") || extname(source) !== "";
  if (!looksLikePath && !existsSync(source)) {
    const valid = [...BENCHMARK_NAMES, ...otherNames].join(", ");
    throw new Error(`unknown benchmark "${source}"; valid names: ${valid}; or a path to a JSONL file`);
  }
  return source;
}

/** Parses JSONL lines; `file` is only used for ids and error messages. */
export function parseJsonlProblems(lines: Iterable<string>, file: string): BenchmarkProblem[] {
  const out: BenchmarkProblem[] = [];
  const defaultSource = basename(file, extname(file));
  for (const { rec: r, where, line } of jsonlObjects(lines, file, '"problem" and "answer"')) {
    if (typeof r.problem !== "string" || r.problem.trim() === "") {
      throw new Error(`${where}: missing or empty string field "problem"`);
    }
    if (r.problem.length > MAX_PROBLEM_CHARS) {
      throw new Error(
        `${where}: "problem" is ${r.problem.length} characters, over the limit of ${MAX_PROBLEM_CHARS}`,
      );
    }
    let answer: string;
    if (typeof r.answer === "string") answer = r.answer;
    else if (typeof r.answer === "number" && Number.isFinite(r.answer)) answer = String(r.answer);
    else throw new Error(`${where}: missing field "answer" (a string or a number)`);
    if (answer.trim() === "") throw new Error(`${where}: empty "answer"`);
    if (r.id !== undefined && typeof r.id !== "string" && typeof r.id !== "number") {
      throw new Error(`${where}: field "id" must be a string or a number`);
    }
    const id = r.id === undefined ? `${basename(file)}:${line}` : String(r.id);
    const source = typeof r.source === "string" && r.source !== "" ? r.source : defaultSource;
    out.push({ ...r, id, problem: r.problem, answer, source });
  }
  if (out.length === 0) throw new Error(`${file}: no problems (the file is empty)`);
  return out;
}

/** Loads one JSONL benchmark file, streamed line by line (each line bounded). */
export function loadJsonlProblems(path: string): BenchmarkProblem[] {
  let lines: Iterable<string>;
  try {
    lines = fileLines(path);
  } catch (e) {
    throw new Error(`cannot read benchmark file ${path}: ${(e as Error).message}`);
  }
  return parseJsonlProblems(lines, path);
}

/** The `*.jsonl` files of a benchmarks folder (default: the shipped one), sorted by name. */
export function listBenchmarks(dir: string = BENCHMARKS_DIR): BenchmarkFile[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new Error(`benchmarks folder not found: ${dir}`);
  return readdirSync(dir)
    .filter((f) => f.endsWith(".jsonl"))
    .sort()
    .map((f) => ({ name: basename(f, ".jsonl"), path: join(dir, f) }));
}
