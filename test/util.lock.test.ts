// Lock files: a live owner keeps its lock, a dead one's is taken over, and a run folder's lock
// is re-entrant for the process that holds it (reproduce locks a run, then trains it).

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { lockHolder, lockRunFolder, runLockPath, takeLock } from "../src/util/lock.ts";

const root = mkdtempSync(join(tmpdir(), "rlif-lock-"));
after(() => rmSync(root, { recursive: true, force: true }));
/** The pid of a process that has exited. */
const deadPid = () => spawnSync(process.execPath, ["-e", "0"]).pid!;

describe("lock files", () => {
  test("takeLock: creates the lock's folder, refuses a live owner's lock, takes over a dead one's", () => {
    const lock = join(root, "locks", "not-yet", "m.lock"); // its folder does not exist yet
    assert.equal(takeLock(lock), true);
    assert.equal(takeLock(lock), true, "our own lock");
    writeFileSync(lock, String(process.ppid));
    assert.equal(takeLock(lock), false, "a live process holds it");
    assert.equal(lockHolder(lock), process.ppid);
    writeFileSync(lock, String(deadPid()));
    assert.equal(lockHolder(lock), null);
    assert.equal(takeLock(lock), true, "stale");
    assert.equal(readFileSync(lock, "utf8"), String(process.pid));
  });

  test("lockRunFolder: refuses a live owner naming its pid, takes over a stale lock, releases", () => {
    const dir = join(root, "run");
    const lock = runLockPath(dir);
    const release = lockRunFolder(dir);
    assert.equal(readFileSync(lock, "utf8"), String(process.pid));
    release();
    assert.equal(existsSync(lock), false);

    writeFileSync(lock, String(process.ppid));
    assert.throws(
      () => lockRunFolder(dir),
      new RegExp(`in use by process ${process.ppid} \\(lock ${lock}\\)`),
    );
    assert.equal(readFileSync(lock, "utf8"), String(process.ppid), "the owner's lock is left alone");

    const dead = deadPid();
    writeFileSync(lock, String(dead));
    const said: string[] = [];
    lockRunFolder(dir, (m) => said.push(m))();
    assert.match(said.join("\n"), new RegExp(`took over .* from process ${dead}`));
    assert.equal(existsSync(lock), false);
  });

  test("lockRunFolder is re-entrant: an inner release leaves the outer holder's lock", () => {
    const dir = join(root, "nested");
    const outer = lockRunFolder(dir);
    const inner = lockRunFolder(dir);
    inner();
    assert.equal(readFileSync(runLockPath(dir), "utf8"), String(process.pid));
    outer();
    assert.equal(existsSync(runLockPath(dir)), false);
  });
});
