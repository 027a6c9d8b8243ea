// Cross-process lock files: one process at a time works in a run folder (`train`, `pretrain`,
// `sft`, each run of `reproduce`, whose processes share a study's runs) or writes a mixed model.
// A lock holds its owner's pid; a lock whose process is gone (killed, crashed) is stale and taken
// over, so no lock ever needs removing by hand after a crash.

import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { writeFileAtomic } from "./fs.ts";

/** The lock file of a run folder. */
export const runLockPath = (dir: string) => join(dir, ".lock");

function readPid(lock: string): number | null {
  try {
    const pid = Number(readFileSync(lock, "utf8"));
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/** The pid of another live process holding this lock, or null (no lock, ours, or stale). */
export function lockHolder(lock: string): number | null {
  const pid = readPid(lock);
  if (pid === null || pid === process.pid) return null;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (e) {
    // EPERM: the process exists but belongs to another user. ESRCH: it is gone (a stale lock).
    return (e as NodeJS.ErrnoException).code === "EPERM" ? pid : null;
  }
}

/** Take a lock file unless a live process holds it; true when taken (or already ours). */
export function takeLock(lock: string): boolean {
  mkdirSync(dirname(lock), { recursive: true });
  try {
    writeFileSync(lock, String(process.pid), { flag: "wx" });
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
  }
  if (lockHolder(lock) !== null) return false;
  // Stale (or ours): replace it whole, then read it back: of two processes taking over the same
  // stale lock at once, the one whose write landed last keeps it.
  writeFileAtomic(lock, String(process.pid));
  return readPid(lock) === process.pid;
}

export function releaseLock(lock: string): void {
  rmSync(lock, { force: true });
}

/** Run `fn` holding the lock, waiting (polling each second) while another process holds it. */
export async function withLock<T>(lock: string, fn: () => Promise<T>): Promise<T> {
  while (!takeLock(lock)) await new Promise((res) => setTimeout(res, 1000));
  try {
    return await fn();
  } finally {
    releaseLock(lock);
  }
}

/**
 * Lock run folder `dir` for this process; returns the function that releases it. A folder in
 * use by a live process is an error naming its pid. Re-entrant: when this process already holds
 * the lock (`reproduce` locks each run before training it), release leaves it to the outer owner.
 */
export function lockRunFolder(dir: string, log: (msg: string) => void = console.error): () => void {
  const lock = runLockPath(dir);
  if (readPid(lock) === process.pid) return () => {};
  const previous = existsSync(lock) ? readPid(lock) : null;
  if (!takeLock(lock)) {
    const pid = lockHolder(lock) ?? readPid(lock);
    throw new Error(
      `${dir} is in use by process ${pid} (lock ${lock}): wait for it to finish or stop it, or use another --out`,
    );
  }
  if (previous !== null) log(`took over ${lock} from process ${previous}, which is no longer running`);
  return () => {
    if (readPid(lock) === process.pid) rmSync(lock, { force: true });
  };
}
