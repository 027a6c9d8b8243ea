// `rlif grade`: compare one predicted answer with a gold answer, or a JSONL file of pairs.

import { writeFileSync } from "node:fs";
import type { Command } from "commander";
import {
  DEFAULT_WORK_BUDGET,
  type ExtractMode,
  gradeAnswer,
  gradeResponse,
  isExtractMode,
} from "../grading/index.ts";
import { writeStreamAtomic } from "../util/fs.ts";
import { fileLines, jsonlObjects } from "../util/jsonl.ts";

export interface GradeIo {
  stdout?: (text: string) => void;
}

interface GradeCliOptions {
  pred?: string;
  gold?: string;
  jsonl?: string;
  out?: string;
  extract?: string;
  workBudget?: string;
}

/** How each pair is graded: extraction mode (none: pred is the answer) and work budget. */
export interface GradeSettings {
  mode?: ExtractMode;
  workBudget?: number;
}

function answerField(v: unknown, name: string, where: string): string {
  if (typeof v === "string") return v;
  if (typeof v === "number" && Number.isFinite(v)) return String(v);
  throw new Error(`${where}: field "${name}" must be a string or a number`);
}

/**
 * Grades every `{"pred": …, "gold": …}` line; yields one output line per input line (blank
 * lines skipped). A bad line is an error naming the file and the line number.
 */
export function* gradeJsonlLines(
  lines: Iterable<string>,
  file: string,
  settings: GradeSettings = {},
): Generator<string> {
  for (const { rec: r, where } of jsonlObjects(lines, file, `"pred" and "gold"`)) {
    if (!("pred" in r)) throw new Error(`${where}: missing field "pred"`);
    if (!("gold" in r)) throw new Error(`${where}: missing field "gold"`);
    const pred = answerField(r.pred, "pred", where);
    const gold = answerField(r.gold, "gold", where);
    const g = grade(pred, gold, settings);
    yield JSON.stringify({ equal: g.equal, pred_norm: g.predNorm, gold_norm: g.goldNorm });
  }
}

/** gradeJsonlLines on a whole text. */
export function gradeJsonlText(text: string, file: string, settings: GradeSettings = {}): string[] {
  return [...gradeJsonlLines(text.split("\n"), file, settings)];
}

/** Streams the graded lines of `--jsonl` to `write` in batches: memory stays bounded by a line,
 *  however large the file. */
function gradeJsonlFile(path: string, settings: GradeSettings, write: (s: string) => void): void {
  let lines: Iterable<string>;
  try {
    lines = fileLines(path);
  } catch (e) {
    throw new Error(`cannot read ${path}: ${(e as Error).message}`);
  }
  let batch = "";
  for (const line of gradeJsonlLines(lines, path, settings)) {
    batch += `${line}\n`;
    if (batch.length >= 1 << 16) {
      write(batch);
      batch = "";
    }
  }
  if (batch !== "") write(batch);
}

/** With an extract mode, pred is a response and both sides go through the same parsing. */
function grade(pred: string, gold: string, { mode, workBudget }: GradeSettings) {
  return mode === undefined
    ? gradeAnswer(pred, gold, { workBudget })
    : gradeResponse(pred, gold, { mode, workBudget });
}

function gradeSettings(o: GradeCliOptions): GradeSettings {
  const settings: GradeSettings = {};
  if (o.extract !== undefined) {
    if (!isExtractMode(o.extract)) throw new Error(`unknown --extract mode "${o.extract}"`);
    settings.mode = o.extract;
  }
  if (o.workBudget !== undefined) {
    const n = Number(o.workBudget);
    if (!/^[0-9]+$/.test(o.workBudget) || !Number.isSafeInteger(n) || n < 1) {
      throw new Error(`--work-budget must be a positive integer (work units), got "${o.workBudget}"`);
    }
    settings.workBudget = n;
  }
  return settings;
}

function runGrade(o: GradeCliOptions, io: GradeIo): void {
  const write = io.stdout ?? ((s: string) => process.stdout.write(s));
  const settings = gradeSettings(o);
  if (o.jsonl !== undefined) {
    if (o.pred !== undefined || o.gold !== undefined) throw new Error("use either --jsonl or --pred/--gold");
    const jsonl = o.jsonl;
    // --out appears whole or not at all (a bad line leaves no partial file).
    if (o.out !== undefined) writeStreamAtomic(o.out, (w) => gradeJsonlFile(jsonl, settings, w));
    else gradeJsonlFile(jsonl, settings, write);
    return;
  }
  if (o.pred === undefined || o.gold === undefined) {
    throw new Error("give --pred and --gold, or --jsonl FILE");
  }
  const result = `${grade(o.pred, o.gold, settings).equal}\n`;
  if (o.out !== undefined) writeFileSync(o.out, result);
  else write(result);
}

export function registerGrade(program: Command, io: GradeIo = {}): Command {
  return program
    .command("grade")
    .description("Compare answers as a math grader: prints true/false, or one JSON line per input pair")
    .option("--pred <answer>", "predicted final answer (LaTeX or plain)")
    .option("--gold <answer>", "reference answer")
    .option("--jsonl <file>", 'JSONL file of {"pred": …, "gold": …} lines')
    .option("--out <file>", "write the result here instead of standard output")
    .option(
      "--extract <mode>",
      "treat pred as a full response and extract its answer (the gold is parsed the same way): boxed | fbox | answer-is | gsm8k | last-number | auto",
    )
    .option(
      "--work-budget <units>",
      `work units one comparison may spend before its answers count as different (default ${DEFAULT_WORK_BUDGET}; counted, not timed)`,
    )
    .action((opts: GradeCliOptions) => runGrade(opts, io));
}
