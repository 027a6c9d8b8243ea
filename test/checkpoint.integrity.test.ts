// Checkpoint integrity: every file of a checkpoint is checksummed when written and verified on
// load, so a flipped bit in tensor data (which still parses) makes the checkpoint unusable and
// resuming falls back to the previous one, to the same weights as an uninterrupted run.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { AdamW } from "../src/engine/optim.ts";
import {
  listCheckpoints,
  loadCheckpointDir,
  loadLatestCheckpoint,
  loadModel,
  saveCheckpoint,
} from "../src/model/checkpoint.ts";
import { Transformer } from "../src/model/transformer.ts";
import { trainLm } from "../src/train/lm.ts";
import { CHECKSUM_FILE } from "../src/util/checksums.ts";
import { flipTensorByte } from "./helpers/cli.ts";
import {
  tinyLmConfig as config,
  tinyLmData as data,
  tinyLmOptions as opts,
  weights,
} from "./helpers/tiny-lm.ts";
import { withTmpDir } from "./helpers/tmp.ts";

async function save(dir: string, step: number) {
  const model = Transformer.init(config, 1);
  const opt = new AdamW(model.parameters(), { lr: 1e-3 });
  return saveCheckpoint(dir, model, opt, { step, note: "x" }, { tokenizerJson: '{"t":1}' });
}

describe("checkpoint checksums", () => {
  test(
    "the manifest lists every file with its SHA-256, in sha256sum format",
    withTmpDir(async (dir) => {
      const ck = await save(dir, 1);
      const lines = readFileSync(join(ck, CHECKSUM_FILE), "utf8").trim().split("\n");
      const files = readdirSync(ck)
        .filter((f) => f !== CHECKSUM_FILE)
        .sort();
      assert.deepEqual(files, [
        "config.json",
        "model.safetensors",
        "optimizer.safetensors",
        "tokenizer.json",
        "trainer_state.json",
      ]);
      assert.deepEqual(
        lines,
        files.map(
          (f) =>
            `${createHash("sha256")
              .update(readFileSync(join(ck, f)))
              .digest("hex")}  ${f}`,
        ),
      );
    }),
  );

  for (const [file, damage] of [
    ["model.safetensors", (p: string) => flipTensorByte(p)],
    ["optimizer.safetensors", (p: string) => flipTensorByte(p)],
    // Still valid JSON with a plausible step: only the checksum can tell.
    ["trainer_state.json", (p: string) => writeFileSync(p, readFileSync(p, "utf8").replace('"x"', '"y"'))],
    ["config.json", (p: string) => writeFileSync(p, `${readFileSync(p, "utf8")} `)],
  ] as const)
    test(
      `a changed ${file} makes the checkpoint unusable, naming the file`,
      withTmpDir(async (dir) => {
        const ck = await save(dir, 1);
        loadCheckpointDir(ck); // loads before the damage
        damage(join(ck, file));
        const re = new RegExp(`${file}: checksum mismatch`);
        assert.throws(() => loadCheckpointDir(ck), re);
        if (file === "model.safetensors" || file === "config.json") assert.throws(() => loadModel(ck), re);
      }),
    );

  test(
    "a file missing from the checkpoint or the manifest makes it unusable",
    withTmpDir(async (dir) => {
      const ck = await save(dir, 1);
      rmSync(join(ck, "optimizer.safetensors"));
      assert.throws(() => loadCheckpointDir(ck), /optimizer\.safetensors/);
      const ck2 = await save(dir, 2);
      const manifest = join(ck2, CHECKSUM_FILE);
      writeFileSync(
        manifest,
        readFileSync(manifest, "utf8")
          .split("\n")
          .filter((l) => !l.endsWith("model.safetensors"))
          .join("\n"),
      );
      assert.throws(() => loadCheckpointDir(ck2), /model\.safetensors: not listed in/);
      writeFileSync(manifest, "not a manifest\n");
      assert.throws(() => loadCheckpointDir(ck2), /checksums\.sha256:1: not a/);
    }),
  );

  test(
    "a checkpoint written before checksums (no manifest) still loads",
    withTmpDir(async (dir) => {
      const ck = await save(dir, 3);
      rmSync(join(ck, CHECKSUM_FILE));
      assert.equal(loadCheckpointDir(ck).state.step, 3);
    }),
  );

  test(
    "resuming past a bit-flipped newest checkpoint falls back to the previous one and reproduces the uninterrupted run",
    withTmpDir(async (dir) => {
      const full = await trainLm(Transformer.init(config, 5), data, opts(join(dir, "a")));
      const out = join(dir, "b");
      await trainLm(Transformer.init(config, 5), data, { ...opts(out), stopAt: 6 });
      const newest = listCheckpoints(out).at(-1)!;
      assert.ok(newest.endsWith("step-0000006"));
      flipTensorByte(join(newest, "model.safetensors"), 17);
      const warnings: string[] = [];
      assert.equal(loadLatestCheckpoint(out, (m) => warnings.push(m))?.state.step, 3);
      assert.match(warnings[0], /step-0000006 is unusable.*model\.safetensors: checksum mismatch/);
      const orig = console.warn;
      console.warn = () => {};
      try {
        const resumed = await trainLm(Transformer.init(config, 99), data, { ...opts(out), resume: true });
        assert.deepEqual(weights(resumed.model), weights(full.model));
      } finally {
        console.warn = orig;
      }
    }),
  );
});
