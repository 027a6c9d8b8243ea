// Held-out evaluation during training: which steps evaluate which set, validation never equal to
// test, and the shared step-0 cache (a hit returns exactly the stored result; any change misses).

import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import {
  cachedStep0,
  evaluationDue,
  type HeldOutResult,
  type HeldOutSet,
  heldOutSets,
  testDue,
  validationSource,
} from "../src/eval/held-out.ts";
import { TrainConfigSchema } from "../src/rl/config.ts";

test("schedule: validation at every evaluation step, test at 0, the listed steps and the end", () => {
  const cfg = TrainConfigSchema.parse({ steps: 24, eval: { every: 8, test_steps: "8" } });
  assert.deepEqual(
    [0, 4, 8, 16, 24].map((s) => [evaluationDue(cfg, s), testDue(cfg, s)]),
    [
      [true, true],
      [false, false],
      [true, true],
      [true, false],
      [true, true],
    ],
  );
  const every = TrainConfigSchema.parse({ steps: 24, eval: { every: 8 } });
  assert.ok(testDue(every, 16));
  assert.throws(() => TrainConfigSchema.parse({ eval: { test_steps: "soon" } }), /eval\.test_steps|expected/);
});

test("validation source: auto is val-id beside an organism test split, none for files; never the test set", () => {
  assert.equal(validationSource(TrainConfigSchema.parse({})), "organism:val-id");
  assert.equal(validationSource(TrainConfigSchema.parse({ eval: { source: "math500" } })), null);
  assert.equal(validationSource(TrainConfigSchema.parse({ val: { source: "none" } })), null);
  const same = TrainConfigSchema.parse({ val: { source: "organism:test-id" } });
  assert.throws(() => heldOutSets(same, "base"), /must not be the test set/);
  const sets = heldOutSets(TrainConfigSchema.parse({ eval: { limit: 5 }, val: { limit: 3 } }), "base");
  assert.equal(sets.test.problems.length, 5);
  assert.equal(sets.val?.problems.length, 3);
  const testIds = new Set(sets.test.problems.map((p) => p.prompt));
  assert.ok(sets.val?.problems.every((p) => !testIds.has(p.prompt)));
});

test("step-0 cache: the second identical evaluation is read back; another seed or new weights miss", async () => {
  const dir = mkdtempSync(join(tmpdir(), "rlif-step0-"));
  try {
    const model = join(dir, "model");
    const cache = join(dir, "cache");
    mkdirSync(model);
    writeFileSync(join(model, "model.safetensors"), "w1");
    const set = heldOutSets(TrainConfigSchema.parse({ eval: { limit: 2 } }), "base").test;
    let runs = 0;
    const fake = (tag: string) => async (): Promise<HeldOutResult> => {
      runs++;
      return { split: "test", summary: { n: 2, greedy_accuracy: 0.5, tag } as never, lines: [] };
    };
    const a = await cachedStep0(cache, model, set, fake("a"));
    const b = await cachedStep0(cache, model, set, fake("b"));
    assert.equal(runs, 1);
    assert.deepEqual(b, a);
    const other: HeldOutSet = { ...set, seed: set.seed + 1 };
    await cachedStep0(cache, model, other, fake("c"));
    assert.equal(runs, 2);
    utimesSync(join(model, "model.safetensors"), new Date(0), new Date(1000));
    await cachedStep0(cache, model, set, fake("d"));
    assert.equal(runs, 3);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
