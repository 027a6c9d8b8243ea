// Opening a run folder (train/run-folder.ts) and stopping by signal (train/stop-signals.ts), in
// process: every per-step log is cut back to the checkpoint restored, --restart moves the old run
// aside, and a stop signal ends the loop after the step in progress with a checkpoint of it.
// test/run-safety.test.ts tries the same on the `rlif` command in child processes.

import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { resumeCommand } from "../src/cli/options.ts";
import { listCheckpoints, saveCheckpoint } from "../src/model/checkpoint.ts";
import { Transformer } from "../src/model/transformer.ts";
import { trainLm } from "../src/train/lm.ts";
import { openRunFolder } from "../src/train/run-folder.ts";
import { StoppedBySignal } from "../src/train/stop-signals.ts";
import { resetStepLogs } from "../src/util/fs.ts";
import { tinyLmConfig as config, tinyLmData, tinyLmOptions } from "./helpers/tiny-lm.ts";
import { withTmpDir } from "./helpers/tmp.ts";

const lines = (steps: number[]) => steps.map((step) => `${JSON.stringify({ step })}\n`).join("");
const stepsIn = (path: string) =>
  readFileSync(path, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l).step);
const LOGS = ["metrics.jsonl", "evals.jsonl"];

describe("per-step logs", () => {
  test(
    "resetStepLogs cuts every file back to the step (a torn last line goes), or empties them",
    withTmpDir((dir) => {
      const [a, b, absent] = ["metrics.jsonl", "evals.jsonl", "other.jsonl"].map((n) => join(dir, n));
      writeFileSync(a, `${lines([0, 1, 2, 3, 4])}{"step": 5, "los`);
      writeFileSync(b, lines([1, 1, 2, 3, 4, 5]));
      resetStepLogs([a, b, absent], 3);
      assert.deepEqual(stepsIn(a), [0, 1, 2, 3]);
      assert.deepEqual(stepsIn(b), [1, 1, 2, 3]);
      assert.equal(existsSync(absent), false, "a missing file is not created");
      resetStepLogs([a, b], null);
      assert.equal(readFileSync(a, "utf8") + readFileSync(b, "utf8"), "");
    }),
  );

  test(
    "opening a run folder cuts each step log back to the checkpoint restored; --restart moves all aside",
    withTmpDir(async (dir) => {
      const model = Transformer.init(config, 1);
      for (const step of [2, 4]) await saveCheckpoint(dir, model, null, { step });
      for (const n of LOGS) writeFileSync(join(dir, n), lines([1, 2, 3, 4, 5, 6]));
      const opened = openRunFolder({ out: dir, resume: true, stepLogs: LOGS, log: () => {} });
      opened.release();
      assert.equal(opened.checkpoint?.state.step, 4);
      for (const n of LOGS) assert.deepEqual(stepsIn(join(dir, n)), [1, 2, 3, 4], n);

      assert.throws(() => openRunFolder({ out: dir, resume: true, restart: true }), /exclude each other/);
      const said: string[] = [];
      const restarted = openRunFolder({ out: dir, restart: true, stepLogs: LOGS, log: (m) => said.push(m) });
      restarted.release();
      assert.equal(restarted.checkpoint, null);
      const [aside] = readdirSync(dir).filter((n) => n.startsWith("abandoned-"));
      assert.match(said.join("\n"), new RegExp(aside));
      assert.deepEqual(listCheckpoints(join(dir, aside)).length, 2);
      for (const n of LOGS) {
        assert.deepEqual(stepsIn(join(dir, aside, n)), [1, 2, 3, 4], n);
        assert.equal(existsSync(join(dir, n)), false, `${n} starts afresh`);
      }
      assert.deepEqual(listCheckpoints(dir), []);
    }),
  );
});

describe("stop signals", () => {
  test(
    "a SIGTERM during a step ends the loop after it, with a checkpoint of it and exit code 143",
    withTmpDir(async (dir) => {
      const o = {
        ...tinyLmOptions(dir),
        steps: 10,
        checkpointEvery: 4,
        // The signal arrives while step 6 is being logged.
        onLog: (m: { step: number }) => m.step === 6 && process.emit("SIGTERM", "SIGTERM"),
      };
      const err = await trainLm(Transformer.init(config, 2), tinyLmData, o).then(
        () => assert.fail("the run should have stopped"),
        (e) => e,
      );
      assert.ok(err instanceof StoppedBySignal, String(err));
      assert.equal(err.exitCode, 143);
      assert.match(err.message, /stopped by SIGTERM after step 6 of 10: checkpoint .*step-0000006 written/);
      assert.deepEqual(
        listCheckpoints(dir).map((d) => d.slice(-2)),
        ["04", "06"],
      );
      assert.deepEqual(stepsIn(join(dir, "metrics.jsonl")), [1, 2, 3, 4, 5, 6]);
      assert.equal(process.listenerCount("SIGTERM"), 0, "the handler is removed with the run");
      assert.equal(existsSync(join(dir, ".lock")), false, "the lock is released");
    }),
  );

  test("the command to continue swaps --restart for --resume on training commands only", () => {
    assert.equal(
      resumeCommand(["--threads", "1", "train", "--restart", "--out", "runs/a b"], "train"),
      "rlif --threads 1 train --out 'runs/a b' --resume",
    );
    assert.equal(resumeCommand(["reproduce", "--quick"], "reproduce"), "rlif reproduce --quick");
  });
});
