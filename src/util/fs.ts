// Crash-safe file writes: a reader sees the old file or the new one, never a torn one.

import {
  closeSync,
  existsSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";

function fsyncDir(dir: string): void {
  try {
    const fd = openSync(dir, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Not every platform can fsync a directory; the rename is still atomic.
  }
}

/** Parse a JSON file; a malformed one is an error that names it. */
export function readJsonFile<T = unknown>(path: string): T {
  const text = readFileSync(path, "utf8");
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new Error(`${path}: not valid JSON (${(e as Error).message})`);
  }
}

/** Write to a temporary file beside `path`, fsync, then rename over it. */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  writeStreamAtomic(path, (write) => write(data));
}

/** writeFileAtomic for output produced piece by piece: `produce` calls `write` as often as it
 *  likes; if it throws, the temporary file is removed and `path` is untouched. */
export function writeStreamAtomic(
  path: string,
  produce: (write: (data: string | Uint8Array) => void) => void,
): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const fd = openSync(tmp, "w");
  try {
    produce((data) => {
      const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
      for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off, bytes.length - off);
    });
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {}
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, path);
  fsyncDir(dirname(path));
}

/** Append one JSON object as a line and fsync, so a crash loses at most the line being written. */
export function appendJsonLine(path: string, obj: unknown): void {
  const fd = openSync(path, "a");
  try {
    writeSync(fd, `${JSON.stringify(obj)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Drop metric lines past the step a run resumes from (they will be produced again); a torn
 *  last line from a killed process goes too. */
export function truncateJsonlAfterStep(path: string, step: number): void {
  if (!existsSync(path)) return;
  const keep = readFileSync(path, "utf8")
    .split("\n")
    .filter((line) => {
      if (!line.trim()) return false;
      try {
        return (JSON.parse(line) as { step?: number }).step! <= step;
      } catch {
        return false; // a torn last line from a killed process
      }
    });
  writeFileAtomic(path, keep.length ? `${keep.join("\n")}\n` : "");
}

/**
 * Make a run's per-step JSONL files (metrics.jsonl, ...) agree with the checkpoint a run
 * continues from: lines past `step` go (they will be written again), and with no checkpoint
 * (`null`: the run starts at step 0) the files are emptied, so no step is ever logged twice.
 */
export function resetStepLogs(paths: readonly string[], step: number | null): void {
  for (const path of paths) {
    if (step !== null) truncateJsonlAfterStep(path, step);
    else if (existsSync(path)) writeFileAtomic(path, "");
  }
}

export { fsyncDir };
