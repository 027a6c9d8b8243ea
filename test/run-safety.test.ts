// What a training run guarantees when things go wrong, tried on the `rlif` command in child
// processes as a user would meet it (issue 17): every checkpoint unreadable, a kill before the
// first checkpoint, two processes on one run folder, and SIGTERM/SIGINT. `rlif train` (RL) and
// `rlif pretrain`/`sft` share one run loop; each behaviour is tried on at least one of them.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { listCheckpoints } from "../src/model/checkpoint.ts";
import { flipTensorByte, metricSteps, runRlif, snapshot, startRlif, waitFor } from "./helpers/cli.ts";

const tmp = mkdtempSync(join(tmpdir(), "rlif-safety-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** A 4k-parameter organism: a pretraining step takes milliseconds. */
const TINY_LM = [
  "--data.documents=40",
  "--model.hidden_size=16",
  "--model.num_hidden_layers=1",
  "--model.num_attention_heads=2",
  "--model.num_key_value_heads=1",
  "--model.intermediate_size=32",
  "--model.max_position_embeddings=256",
  "--train.batch_size=2",
  "--train.seq_len=32",
  "--train.log_every=1",
  "--train.warmup_steps=1",
  "--eval.limit=1",
  "--eval.max_new_tokens=4",
];
const pretrain = (out: string, steps: number, every: number, ...extra: string[]) => [
  "pretrain",
  `--out=${out}`,
  `--export=${out}-model`,
  ...TINY_LM,
  `--train.steps=${steps}`,
  `--train.checkpoint_every=${every}`,
  ...extra,
];

/** The reference pretraining run; its exported model is the policy of the RL runs. */
const REF_STEPS = 200;
const ref = join(tmp, "ref");
const tinyModel = `${ref}-model`;
const train = (out: string, steps: number, every: number, ...extra: string[]) => [
  "train",
  `--model=${tinyModel}`,
  `--out=${out}`,
  `--steps=${steps}`,
  `--checkpoint_every=${every}`,
  "--rollout.prompts_per_step=2",
  "--rollout.group_size=2",
  "--rollout.max_new_tokens=4",
  "--rollout.batch_size=4",
  "--data.num_prompts=4",
  "--eval.limit=1",
  ...extra,
];

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const stepOf = (dir: string) => Number(dir.slice(-7));
const exported = (out: string) => readFileSync(join(`${out}-model`, "model.safetensors"));

before(async () => {
  const r = await runRlif(pretrain(ref, REF_STEPS, 50));
  assert.equal(r.code, 0, r.stderr);
});

describe("every checkpoint unusable", () => {
  test("pretrain stops with an error listing each checkpoint and why, touching none; --restart moves them aside", async () => {
    const out = join(tmp, "unusable-lm");
    assert.equal((await runRlif(pretrain(out, 6, 2))).code, 0);
    const [c2, c4, c6] = listCheckpoints(out);
    flipTensorByte(join(c6, "model.safetensors"));
    flipTensorByte(join(c4, "optimizer.safetensors"));
    writeFileSync(join(c2, "trainer_state.json"), "{");
    const before = snapshot(out);
    for (const flags of [["--resume"], []]) {
      const r = await runRlif(pretrain(out, 6, 2, ...flags));
      assert.equal(r.code, 1, `${flags}: ${r.stderr}`);
      assert.match(r.stderr, /none can be loaded/);
      assert.match(r.stderr, /step-0000006.*model\.safetensors: checksum mismatch/);
      assert.match(r.stderr, /step-0000004.*optimizer\.safetensors: checksum mismatch/);
      assert.match(r.stderr, /step-0000002.*trainer_state\.json/);
      assert.match(r.stderr, /--restart/);
      assert.deepEqual(snapshot(out), before, `${flags}: the run folder was changed`);
    }
    const r = await runRlif(pretrain(out, 6, 2, "--restart"));
    assert.equal(r.code, 0, r.stderr);
    const aside = readdirSync(out).filter((n) => n.startsWith("abandoned-"));
    assert.equal(aside.length, 1, `one folder of abandoned checkpoints in ${readdirSync(out)}`);
    for (const [path, sum] of before)
      if (path.startsWith("checkpoints/")) assert.equal(snapshot(join(out, aside[0])).get(path), sum, path);
    assert.deepEqual(metricSteps(out), range(1, 6));
    assert.deepEqual(listCheckpoints(out).map(stepOf), [2, 4, 6]);
  });

  test("train refuses a folder whose checkpoints are all damaged, with or without --resume", async () => {
    const out = join(tmp, "unusable-rl");
    assert.equal((await runRlif(train(out, 2, 1))).code, 0);
    for (const dir of listCheckpoints(out)) flipTensorByte(join(dir, "model.safetensors"));
    const before = snapshot(out);
    for (const flags of [["--resume"], []]) {
      const r = await runRlif(train(out, 2, 1, ...flags));
      assert.equal(r.code, 1, `${flags}: ${r.stderr}`);
      assert.match(r.stderr, /none can be loaded/);
      for (const dir of listCheckpoints(out)) assert.ok(r.stderr.includes(dir.split("/").pop()!), dir);
      assert.deepEqual(snapshot(out), before, `${flags}: the run folder was changed`);
    }
  });
});

describe("metrics.jsonl follows the checkpoint restored", () => {
  test("pretrain killed before its first checkpoint starts over without duplicate steps, to the reference weights", async () => {
    const out = join(tmp, "kill-first");
    const run = startRlif(pretrain(out, REF_STEPS, 100));
    await waitFor(() => metricSteps(out).length >= 5, "five logged steps");
    run.child.kill("SIGKILL");
    await run.done;
    assert.deepEqual(listCheckpoints(out), [], "killed before its first checkpoint");
    const r = await runRlif(pretrain(out, REF_STEPS, 100, "--resume"));
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(metricSteps(out), range(1, REF_STEPS));
    assert.deepEqual(exported(out), exported(ref));
  });

  test("train killed while writing its step-0 checkpoint logs step 0 once on the rerun", async () => {
    const out = join(tmp, "kill-first-rl");
    assert.equal((await runRlif(train(out, 2, 1))).code, 0);
    // The state such a kill leaves: step 0 logged, a partial checkpoint under its temporary name.
    const ck = join(out, "checkpoints");
    renameSync(join(ck, "step-0000000"), join(tmp, "partial"));
    rmSync(ck, { recursive: true });
    mkdirSync(ck);
    renameSync(join(tmp, "partial"), join(ck, ".step-0000000.tmp"));
    rmSync(join(ck, ".step-0000000.tmp", "trainer_state.json"));
    writeFileSync(
      join(out, "metrics.jsonl"),
      `${readFileSync(join(out, "metrics.jsonl"), "utf8").split("\n")[0]}\n`,
    );
    const r = await runRlif(train(out, 2, 1, "--resume"));
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(metricSteps(out), [0, 1, 2]);
  });
});

describe("one process per run folder", () => {
  test("a second train on a folder in use is refused with the owner's pid", async () => {
    const out = join(tmp, "two");
    // Steps take milliseconds: far more than can run before the test kills it.
    const a = startRlif(train(out, 1_000_000, 1000));
    try {
      await waitFor(() => metricSteps(out).length >= 2, "the first process to train");
      const b = await runRlif(train(out, 1_000_000, 1000, "--resume"), 60_000);
      assert.equal(b.code, 1, b.stderr);
      assert.match(b.stderr, new RegExp(`in use by process ${a.child.pid}\\b`));
      assert.equal(a.child.exitCode, null, "the first process is still training");
    } finally {
      a.child.kill("SIGKILL");
      await a.done;
    }
  });

  test("pretrain and sft take the same lock: a live owner refuses, a dead one is taken over", async () => {
    const live = join(tmp, "lock-live");
    mkdirSync(live);
    writeFileSync(join(live, ".lock"), String(process.pid)); // this test process: alive
    const sft = await runRlif([
      "sft",
      `--init=${tinyModel}`,
      `--out=${live}`,
      `--export=${live}-model`,
      "--data.examples=20",
      "--train.steps=2",
      "--train.batch_size=2",
      "--train.seq_len=256",
      "--eval.limit=1",
      "--eval.max_new_tokens=4",
    ]);
    assert.equal(sft.code, 1, sft.stderr);
    assert.match(sft.stderr, new RegExp(`in use by process ${process.pid}\\b`));
    assert.equal(existsSync(join(live, "metrics.jsonl")), false);

    const stale = join(tmp, "lock-stale");
    mkdirSync(stale);
    const gone = spawnSync(process.execPath, ["-e", "0"]).pid; // a process that has exited
    writeFileSync(join(stale, ".lock"), String(gone));
    const r = await runRlif(pretrain(stale, 4, 2));
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(metricSteps(stale), range(1, 4));
    assert.equal(existsSync(join(stale, ".lock")), false, "released at the end");
  });
});

describe("stopping by signal", () => {
  test("SIGTERM on pretrain: finishes the step, checkpoints it, says how to resume, exits 143; the resumed run matches the reference", async () => {
    const out = join(tmp, "sigterm");
    const run = startRlif(pretrain(out, REF_STEPS, 50));
    await waitFor(() => metricSteps(out).length >= 20, "twenty logged steps");
    run.child.kill("SIGTERM");
    const r = await run.done;
    assert.equal(r.code, 143, `exit ${r.code} / ${r.signal}: ${r.stderr}`);
    const steps = metricSteps(out);
    const last = steps.at(-1)!;
    assert.ok(last < REF_STEPS, "stopped before the end");
    assert.deepEqual(steps, range(1, last));
    assert.equal(stepOf(listCheckpoints(out).at(-1)!), last, "a checkpoint of the last finished step");
    assert.match(r.stderr, /SIGTERM/);
    assert.match(r.stderr, new RegExp(`step-${String(last).padStart(7, "0")}`));
    assert.match(r.stderr, /--resume/);
    const resumed = await runRlif(pretrain(out, REF_STEPS, 50, "--resume"));
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.deepEqual(metricSteps(out), range(1, REF_STEPS));
    assert.deepEqual(exported(out), exported(ref));
  });

  test("SIGINT on train: exits 130 with a checkpoint of the last finished step; --resume completes it", async () => {
    const out = join(tmp, "sigint");
    const run = startRlif(train(out, 40, 10));
    await waitFor(() => metricSteps(out).length >= 4, "three RL steps");
    run.child.kill("SIGINT");
    const r = await run.done;
    assert.equal(r.code, 130, `exit ${r.code} / ${r.signal}: ${r.stderr}`);
    const last = metricSteps(out).at(-1)!;
    assert.ok(last < 40, "stopped before the end");
    assert.deepEqual(metricSteps(out), range(0, last));
    assert.equal(stepOf(listCheckpoints(out).at(-1)!), last);
    assert.match(r.stderr, /SIGINT/);
    assert.match(r.stderr, /--resume/);
    const resumed = await runRlif(train(out, 40, 10, "--resume"));
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.deepEqual(metricSteps(out), range(0, 40));
  });
});
