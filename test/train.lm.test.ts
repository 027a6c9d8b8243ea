// The LM training loop: checkpoints are atomic and a resumed run equals an uninterrupted one.

import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { tidy } from "../src/engine/tensor.ts";
import { listCheckpoints, loadModel, saveModel } from "../src/model/checkpoint.ts";
import { Transformer } from "../src/model/transformer.ts";
import { trainLm } from "../src/train/lm.ts";
import {
  tinyLmConfig as config,
  tinyLmData as data,
  tinyLmOptions as opts,
  weights,
} from "./helpers/tiny-lm.ts";

describe("LM training loop", () => {
  test("resume after an interruption reproduces the uninterrupted run exactly", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rlif-lm-"));
    try {
      const full = await trainLm(Transformer.init(config, 5), data, opts(join(dir, "a")));
      await trainLm(Transformer.init(config, 5), data, { ...opts(join(dir, "b")), stopAt: 5 });
      // Only step 3 was checkpointed before the stop... plus the stop itself at 5.
      assert.deepEqual(
        listCheckpoints(join(dir, "b")).map((p) => p.split("/").pop()),
        ["step-0000003", "step-0000005"],
      );
      const resumed = await trainLm(Transformer.init(config, 99), data, {
        ...opts(join(dir, "b")),
        resume: true,
      });
      assert.deepEqual(weights(resumed.model), weights(full.model));
      const lines = readFileSync(join(dir, "b", "metrics.jsonl"), "utf8")
        .trim()
        .split("\n");
      assert.equal(lines.length, 8);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a folder with checkpoints needs --resume (the shared run loop refuses to overwrite it)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rlif-lm-"));
    try {
      await trainLm(Transformer.init(config, 5), data, { ...opts(dir), stopAt: 2 });
      await assert.rejects(
        trainLm(Transformer.init(config, 5), data, opts(dir)),
        /already holds checkpoints: pass --resume/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a corrupt newest checkpoint is reported, moved aside (not deleted) and the previous one used", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rlif-lm-"));
    try {
      await trainLm(Transformer.init(config, 5), data, { ...opts(dir), stopAt: 6 });
      const [, newest] = listCheckpoints(dir).slice(-2);
      writeFileSync(join(newest, "model.safetensors"), "garbage");
      const warnings: string[] = [];
      const orig = console.warn;
      console.warn = (m: string) => warnings.push(m);
      try {
        const r = await trainLm(Transformer.init(config, 5), data, { ...opts(dir), resume: true, stopAt: 6 });
        assert.ok(Number.isFinite(r.lastLoss));
      } finally {
        console.warn = orig;
      }
      assert.equal(warnings.length, 2);
      assert.match(warnings[0], /step-0000006 is unusable/);
      const aside = readdirSync(dir).filter((n) => n.startsWith("abandoned-"));
      assert.match(
        warnings[1],
        new RegExp(`moved the unusable checkpoints to .*${aside[0]}; resuming from .*step-0000003`),
      );
      assert.equal(
        readFileSync(join(dir, aside[0], "checkpoints", "step-0000006", "model.safetensors"), "utf8"),
        "garbage",
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a saved model folder loads back with identical logits", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rlif-model-"));
    try {
      const m = Transformer.init(config, 3);
      await saveModel(dir, m);
      const back = loadModel(dir);
      const ids = Int32Array.from([1, 2, 3, 4]);
      const a = tidy(() => m.forward(ids, 1, 4)).toArray();
      const b = tidy(() => back.forward(ids, 1, 4)).toArray();
      assert.deepEqual(a, b);
      writeFileSync(join(dir, "config.json"), '{"hidden_size": -1}');
      assert.throws(() => loadModel(dir), /invalid model config .*config.json: .*hidden_size/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
