// Cross-process locks: several `reproduce` processes on one study folder share its runs. A lock is
// a file holding its owner's pid; a lock whose owner has exited is stale and taken over.

import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

/** The pid of another live process holding this lock, or null (no lock, ours, or stale). */
export function lockHolder(lock: string): number | null {
  try {
    const pid = Number(readFileSync(lock, "utf8"));
    if (!Number.isInteger(pid) || pid === process.pid) return null;
    process.kill(pid, 0);
    return pid;
  } catch (e) {
    // EPERM: the process exists but belongs to another user. Otherwise: no lock, unreadable, or
    // its process is gone (a stale lock).
    return (e as NodeJS.ErrnoException).code === "EPERM" ? Number(readFileSync(lock, "utf8")) : null;
  }
}

/** Take a lock file unless a live process holds it; true when taken. */
export function takeLock(lock: string): boolean {
  mkdirSync(dirname(lock), { recursive: true });
  try {
    writeFileSync(lock, String(process.pid), { flag: "wx" });
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    if (lockHolder(lock) !== null) return false;
    writeFileSync(lock, String(process.pid)); // stale: its owner died
    return true;
  }
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
