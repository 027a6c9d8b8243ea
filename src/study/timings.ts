// Seconds of training per run in <out>/timings.json, kept across invocations (a resumed run adds
// to its time) and shared by the processes working on one study.

import { existsSync } from "node:fs";
import { join } from "node:path";
import { readJsonFile, writeFileAtomic } from "../util/fs.ts";

export type Timings = Record<string, number>;

const path = (out: string) => join(out, "timings.json");

export function readTimings(out: string): Timings {
  return existsSync(path(out)) ? readJsonFile<Timings>(path(out)) : {};
}

/** Add a run's seconds to `timings` and save them. */
export function addTiming(out: string, timings: Timings, id: string, seconds: number): void {
  // Re-read first: another process on the same study may have added its runs.
  Object.assign(timings, readTimings(out));
  timings[id] = (timings[id] ?? 0) + seconds;
  writeFileAtomic(path(out), `${JSON.stringify(timings, null, 2)}\n`);
}
