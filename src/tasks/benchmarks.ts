// Benchmark problems from JSONL files (one `{"problem": …, "answer": …}` object per line), as in
// ../shared/data/benchmarks. Bad lines are errors that name the file and the line.

import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { basename, extname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { jsonlObjects } from "../util/jsonl.ts";

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

/** Parses JSONL text; `file` is only used for ids and error messages. */
export function parseJsonlProblems(text: string, file: string): BenchmarkProblem[] {
  const out: BenchmarkProblem[] = [];
  const defaultSource = basename(file, extname(file));
  for (const { rec: r, where, line } of jsonlObjects(text, file, '"problem" and "answer"')) {
    if (typeof r.problem !== "string" || r.problem.trim() === "") {
      throw new Error(`${where}: missing or empty string field "problem"`);
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
  return out;
}

/** Loads one JSONL benchmark file. */
export function loadJsonlProblems(path: string): BenchmarkProblem[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new Error(`cannot read benchmark file ${path}: ${(e as Error).message}`);
  }
  return parseJsonlProblems(text, path);
}

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** The benchmarks folder: $RLIF_BENCHMARKS, else ../shared/data/benchmarks beside the repository. */
export function benchmarksDir(): string {
  const env = process.env.RLIF_BENCHMARKS;
  return env !== undefined && env !== "" ? resolve(env) : resolve(REPO_ROOT, "../shared/data/benchmarks");
}

/** The `*.jsonl` files of a benchmarks folder, sorted by name. */
export function listBenchmarks(dir: string = benchmarksDir()): BenchmarkFile[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new Error(`benchmarks folder not found: ${dir} (set RLIF_BENCHMARKS to another folder)`);
  }
  return readdirSync(dir)
    .filter((f) => f.endsWith(".jsonl"))
    .sort()
    .map((f) => ({ name: basename(f, ".jsonl"), path: join(dir, f) }));
}
