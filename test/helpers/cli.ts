// Runs the `rlif` command in a child process, as a user would: tests that kill it, signal it,
// run two at once or damage its files in between.

import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliRun {
  child: ChildProcess;
  /** Resolves when the process has exited. */
  done: Promise<CliResult>;
  /** Output so far. */
  stderr(): string;
}

/** One worker thread: several of these run at once on a small machine. */
const GLOBAL = ["--threads", "1"];

export function startRlif(args: string[]): CliRun {
  const child = spawn(process.execPath, ["bin/rlif.mjs", ...GLOBAL, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d) => (stdout += d));
  child.stderr!.on("data", (d) => (stderr += d));
  const done = new Promise<CliResult>((resolve) =>
    child.once("close", (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return { child, done, stderr: () => stderr };
}

/** Run to the end; a run still going after `ms` is killed (the test then fails on its exit). */
export async function runRlif(args: string[], ms = 180_000): Promise<CliResult> {
  const run = startRlif(args);
  const timer = setTimeout(() => run.child.kill("SIGKILL"), ms);
  try {
    return await run.done;
  } finally {
    clearTimeout(timer);
  }
}

/** Poll until `cond` holds; fails with `what` after `ms`. */
export async function waitFor(cond: () => boolean, what: string, ms = 120_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Steps of a run's metrics.jsonl, in file order (event lines left out). */
export function metricSteps(out: string): number[] {
  const path = join(out, "metrics.jsonl");
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((l) => l.trim())
    .flatMap((l) => {
      try {
        const m = JSON.parse(l);
        return m.event ? [] : [m.step as number];
      } catch {
        return []; // a line being written right now
      }
    });
}

/** Relative path -> SHA-256 of every file under dir: to show a folder was left untouched. */
export function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.set(relative(dir, p), createHash("sha256").update(readFileSync(p)).digest("hex"));
    }
  };
  if (existsSync(dir)) walk(dir);
  return out;
}

/** Flip the lowest bit of one byte inside a safetensors file's tensor data: the file still
 *  parses and every value stays finite, which is what made such damage silent. */
export function flipTensorByte(path: string, at = 5): void {
  const bytes = readFileSync(path);
  const headerLen = Number(bytes.readBigUInt64LE(0));
  bytes[8 + headerLen + at] ^= 1;
  writeFileSync(path, bytes);
}
