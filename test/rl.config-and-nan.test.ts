// Trainer robustness: config errors name the key; NaN/Inf stops the run (or rolls back) and
// loses nothing already written.

import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { resolveConfig } from "../src/cli/options.ts";
import { listCheckpoints } from "../src/model/checkpoint.ts";
import { registerReward } from "../src/rewards/registry.ts";
import { registerAdvantage } from "../src/rl/advantages.ts";
import { TrainConfigSchema, trainConfigSchema } from "../src/rl/config.ts";
import { aggregations, klEstimators } from "../src/rl/loss.ts";
import { trainRl } from "../src/rl/trainer.ts";
import { toyConfig, toyDeps, toyModel } from "./helpers/toy-rl.ts";

describe("train config", () => {
  test("flags override the file, which overrides the defaults", () => {
    const dir = mkdtempSync(join(tmpdir(), "rlif-cfg-"));
    try {
      const f = join(dir, "c.yaml");
      writeFileSync(f, "steps: 7\nrollout:\n  temperature: 0.7\n  group_size: 4\n");
      const c = resolveConfig(TrainConfigSchema, { config: f, "rollout.group_size": "6" });
      assert.equal(c.steps, 7);
      assert.equal(c.rollout.temperature, 0.7);
      assert.equal(c.rollout.group_size, 6);
      assert.equal(c.algo.clip_low, 0.2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("unknown keys and bad values are errors that name the key", () => {
    const dir = mkdtempSync(join(tmpdir(), "rlif-cfg-"));
    try {
      const f = join(dir, "c.yaml");
      writeFileSync(f, "rollout:\n  temprature: 0.7\n");
      assert.throws(() => resolveConfig(TrainConfigSchema, { config: f }), /unknown key rollout\.temprature/);
      assert.throws(() => resolveConfig(TrainConfigSchema, { "algo.kl_type": "k9" }), /algo\.kl_type/);
      assert.throws(() => resolveConfig(TrainConfigSchema, { "rollout.top_p": "1.5" }), /rollout\.top_p/);
      assert.throws(
        () => resolveConfig(TrainConfigSchema, { config: join(dir, "nope.yaml") }),
        /does not exist/,
      );
      writeFileSync(f, "steps: [1\n");
      assert.throws(() => resolveConfig(TrainConfigSchema, { config: f }), /c\.yaml/);
      assert.throws(
        () => resolveConfig(TrainConfigSchema, { reward: "self-certainty:1,confidence:2" }),
        /reward.*unknown reward "confidence"; valid: self-certainty/s,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("names come from the registries: a registered estimator is a valid config value", () => {
    const flags = {
      "algo.advantage": "arch-test-raw",
      "algo.kl_type": "arch-test-k0",
      "algo.aggregation": "arch-test-sum",
      reward: "arch-test-len:0.5,self-certainty",
    };
    assert.throws(() => resolveConfig(trainConfigSchema(), flags), /algo\.advantage/);
    registerAdvantage("arch-test-raw", (r) => Float64Array.from(r as ArrayLike<number>));
    klEstimators.register("arch-test-k0", { tensor: (d) => d, value: () => 0 });
    aggregations.register("arch-test-sum", (m) => m);
    registerReward("arch-test-len", (r) => r.responseIds.length);
    const c = resolveConfig(trainConfigSchema(), flags);
    assert.equal(c.algo.advantage, "arch-test-raw");
    assert.equal(c.algo.kl_type, "arch-test-k0");
    assert.equal(c.algo.aggregation, "arch-test-sum");
    assert.equal(c.reward, "arch-test-len:0.5,self-certainty");
  });
});

describe("non-finite loss or gradients", () => {
  /** Deps that poison the live policy (a NaN weight, as after a diverged update) after step 3. */
  function poisoningDeps(model: ReturnType<typeof toyModel>, msgs: string[]) {
    return {
      ...toyDeps(),
      log: (m: string) => msgs.push(m),
      onStep: (m: Record<string, unknown>) => {
        if (m.step !== 3) return;
        const w = model.parameters().get("model.norm.weight")!;
        const v = Array.from(w.readSync());
        v[0] = Number.NaN;
        w.write(v);
      },
    };
  }

  test("on_nan=stop: stops with a message; checkpoints and metrics written so far are kept", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rlif-nan-"));
    try {
      const msgs: string[] = [];
      const model = toyModel(0);
      const r = await trainRl(model, toyConfig(dir, { steps: 6 }), poisoningDeps(model, msgs));
      assert.equal(r.stoppedBy, "nan");
      assert.ok(
        msgs.some((x) => /step 4: non-finite/.test(x) && /Stopped/.test(x)),
        msgs.join("\n"),
      );
      const lines = readFileSync(join(dir, "metrics.jsonl"), "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l));
      assert.deepEqual(
        lines.map((l) => l.step),
        [1, 2, 3, 4],
      );
      assert.equal(lines[3].event, "nan-stop");
      assert.deepEqual(
        listCheckpoints(dir).map((d) => d.slice(-7)),
        ["0000002"],
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("on_nan=rollback: restores the last checkpoint, skips the batch, says so and goes on", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rlif-nan-"));
    try {
      const msgs: string[] = [];
      const model = toyModel(0);
      const r = await trainRl(
        model,
        toyConfig(dir, { steps: 6, on_nan: "rollback" }),
        poisoningDeps(model, msgs),
      );
      assert.equal(r.stoppedBy, "steps");
      assert.equal(r.lastStep, 6);
      assert.ok(
        msgs.some((x) => /Rolled back to step 2/.test(x)),
        msgs.join("\n"),
      );
      for (const t of r.model.parameters().values()) assert.ok(t.toArray().every(Number.isFinite));
      const events = readFileSync(join(dir, "metrics.jsonl"), "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l))
        .filter((l) => l.event);
      assert.deepEqual(events, [{ step: 4, event: "nan-rollback", to_step: 2 }]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
