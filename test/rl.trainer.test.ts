// The RL trainer end to end on a toy task: RLVR learns, self-certainty lowers entropy, and a
// run killed mid-step resumes to exactly the result of an uninterrupted run.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { listCheckpoints } from "../src/model/checkpoint.ts";
import { trainRl } from "../src/rl/trainer.ts";
import { toyConfig, toyDeps, toyModel } from "./helpers/toy-rl.ts";

function metrics(dir: string): Record<string, number>[] {
  return readFileSync(join(dir, "metrics.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l))
    .filter((m) => m.step > 0 && !m.event);
}

const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

function weights(m: { parameters(): Map<string, { toArray(): number[] }> }): number[] {
  return [...m.parameters().values()].flatMap((t) => t.toArray());
}

describe("RL trainer", () => {
  test("RLVR (correctness) raises accuracy on a learnable task", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rlif-rl-"));
    try {
      await trainRl(toyModel(0), toyConfig(dir, { steps: 15 }), toyDeps());
      const m = metrics(dir);
      const first = avg(m.slice(0, 3).map((x) => x.accuracy));
      const last = avg(m.slice(-3).map((x) => x.accuracy));
      assert.ok(first < 0.4, `initial accuracy ${first}`);
      assert.ok(last > first + 0.3, `accuracy ${first} -> ${last}`);
      // Every reward is logged, also those not trained on.
      for (const k of ["reward/self-certainty", "reward/token-entropy", "reward/trajectory-entropy"])
        assert.equal(typeof m[0][k], "number");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("self-certainty lowers mean token entropy", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rlif-rl-"));
    try {
      await trainRl(toyModel(0), toyConfig(dir, { steps: 15, reward: "self-certainty" }), toyDeps());
      const m = metrics(dir);
      const first = avg(m.slice(0, 2).map((x) => x.mean_token_entropy));
      const last = avg(m.slice(-2).map((x) => x.mean_token_entropy));
      assert.ok(last < 0.7 * first, `entropy ${first} -> ${last}`);
      assert.ok(m.every((x) => x.clip_frac >= 0 && Number.isFinite(x.loss)));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a run killed mid-step resumes to the same weights as an uninterrupted run", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rlif-rl-"));
    try {
      const ref = await trainRl(toyModel(1), toyConfig(join(dir, "ref"), { steps: 40 }), toyDeps());
      const out = join(dir, "killed");
      const child = spawn(process.execPath, ["--import", "tsx", "test/helpers/toy-rl-child.ts", out], {
        stdio: "ignore",
      });
      // Kill it some time after its second checkpoint, at whatever point of a step it is in.
      const deadline = Date.now() + 60_000;
      while (!existsSync(join(out, "checkpoints", "step-0000004")) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, 150));
      child.kill("SIGKILL");
      await new Promise((r) => child.once("exit", r));
      const saved = listCheckpoints(out).map((d) => Number(d.slice(-7)));
      assert.ok(Math.max(...saved) < 40, `the child was killed before finishing (checkpoints ${saved})`);
      const resumed = await trainRl(toyModel(99), toyConfig(out, { steps: 40 }), {
        ...toyDeps(),
        resume: true,
      });
      assert.equal(resumed.lastStep, 40);
      assert.deepEqual(weights(resumed.model), weights(ref.model));
      const steps = metrics(out).map((x) => x.step);
      assert.deepEqual(
        steps,
        Array.from({ length: 40 }, (_, i) => i + 1),
        "one metrics line per step",
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("refuses to overwrite a run folder without --resume", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rlif-rl-"));
    try {
      await trainRl(toyModel(0), toyConfig(dir, { steps: 2 }), toyDeps());
      await assert.rejects(trainRl(toyModel(0), toyConfig(dir, { steps: 2 }), toyDeps()), /pass --resume/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
