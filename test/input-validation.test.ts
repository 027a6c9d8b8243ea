// Inputs are checked before any work: an empty or unusable problem source is an error that names
// it, raised before a model is loaded, a run folder made or anything evaluated; benchmarks go by
// their short names, and an unknown name lists the valid ones.

import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { Command } from "commander";
import { registerEval } from "../src/cli/eval.ts";
import { positiveIntFlag, resolveConfig } from "../src/cli/options.ts";
import { PretrainSchema } from "../src/cli/organism.ts";
import { runTraining } from "../src/cli/train.ts";
import { TrainConfigSchema } from "../src/rl/config.ts";
import { BENCHMARK_NAMES } from "../src/tasks/benchmarks.ts";

const tmp = mkdtempSync(join(tmpdir(), "rlif-inputs-"));
after(() => rmSync(tmp, { recursive: true, force: true }));
const empty = join(tmp, "empty.jsonl");
writeFileSync(empty, "\n\n");
const noModel = join(tmp, "no-model");

function evalCli(...args: string[]): Promise<unknown> {
  const program = new Command().exitOverride();
  registerEval(program);
  return program.parseAsync(["eval", ...args], { from: "user" });
}

describe("rlif eval", () => {
  test("an empty --bench file is an error naming it, before the model is loaded", async () => {
    // The model folder does not exist: the error is about the file, so it came first.
    await assert.rejects(evalCli("--model", noModel, "--bench", "organism:test-id", empty), (e: Error) =>
      e.message.startsWith(`${empty}: no problems`),
    );
  });

  test("an unknown benchmark name lists the valid ones; --limit 0 is refused", async () => {
    await assert.rejects(
      evalCli("--model", noModel, "--bench", "gsm8", "--limit", "2"),
      (e: Error) =>
        /unknown benchmark "gsm8"/.test(e.message) && BENCHMARK_NAMES.every((n) => e.message.includes(n)),
    );
    await assert.rejects(
      evalCli("--model", noModel, "--bench", "math500", "--limit", "0"),
      /--limit: must be at least 1/,
    );
  });

  test("a benchmark whose every prompt exceeds the model's context is an error, before evaluating", async () => {
    const long = join(tmp, "long.jsonl");
    writeFileSync(long, `${JSON.stringify({ problem: "What is 1 + 1? ".repeat(40), answer: "2" })}\n`);
    await assert.rejects(evalCli("--bench", "organism:test-id", long, "--limit", "1"), (e: Error) =>
      e.message.startsWith(`${long}: all 1 problems have a prompt over 240 tokens`),
    );
  });

  test("--help lists the shipped benchmarks by short name", async () => {
    let help = "";
    const program = new Command().exitOverride().configureOutput({ writeOut: (s) => (help += s) });
    registerEval(program);
    await assert.rejects(program.parseAsync(["eval", "--help"], { from: "user" }), {
      code: "commander.helpDisplayed",
    });
    for (const name of BENCHMARK_NAMES) assert.match(help, new RegExp(`^  ${name} +\\S`, "m"), name);
    assert.match(help, /--bench <sources\.\.\.>[\s\S]*math500, gsm8k, aime24, aime25, amc23/);
  });
});

describe("rlif train", () => {
  for (const key of ["data.source", "eval.source"]) {
    test(`an empty ${key} file is an error naming it, before the model loads or the run folder is made`, async () => {
      const out = join(tmp, `run-${key}`);
      const cfg = resolveConfig(TrainConfigSchema, { [key]: empty, model: noModel, out, steps: 1 });
      await assert.rejects(runTraining(cfg, { quiet: true }), (e: Error) =>
        e.message.startsWith(`${empty}: no problems`),
      );
      assert.equal(existsSync(out), false);
    });
  }

  test("data.source and eval.source take the short names", async () => {
    const out = join(tmp, "run-names");
    const cfg = resolveConfig(TrainConfigSchema, {
      "data.source": "math_train",
      "eval.source": "aime24",
      model: noModel,
      out,
    });
    // Both sources resolve; the first error is the missing model.
    await assert.rejects(runTraining(cfg, { quiet: true }), /no-model: not a model folder/);
    const bad = resolveConfig(TrainConfigSchema, { "data.source": "math_trian", model: noModel, out });
    await assert.rejects(
      runTraining(bad, { quiet: true }),
      /unknown benchmark "math_trian"; valid names: math500, /,
    );
  });
});

describe("rlif pretrain config", () => {
  const config = (name: string, text: string) => {
    const file = join(tmp, name);
    writeFileSync(file, text);
    return file;
  };

  test("the v2 corpus options are read from the file, and bad values are errors naming the field", () => {
    const ok = resolveConfig(PretrainSchema, {
      config: config(
        "styles.yaml",
        "data:\n  corpus: v2\n  cross_check: 0.5\n  styles: { terse: 0, verbose: 1, stepwise: 0, answer-only: 0.1 }\n",
      ),
    });
    assert.deepEqual(ok.data.styles, { terse: 0, verbose: 1, stepwise: 0, "answer-only": 0.1 });
    assert.equal(ok.data.cross_check, 0.5);
    const zero = config(
      "zero.yaml",
      "data:\n  styles: { terse: 0, verbose: 0, stepwise: 0, answer-only: 0 }\n",
    );
    assert.throws(() => resolveConfig(PretrainSchema, { config: zero }), /data\.styles: at least one style/);
    const typo = config(
      "typo.yaml",
      "data:\n  styles: { terse: 1, verbos: 1, stepwise: 0, answer-only: 0 }\n",
    );
    assert.throws(() => resolveConfig(PretrainSchema, { config: typo }), /data\.styles/);
    assert.equal(ok.data.recheck, "make-ten");
    const columns = config("columns.yaml", "data:\n  corpus: v2\n  recheck: columns\n");
    assert.equal(resolveConfig(PretrainSchema, { config: columns }).data.recheck, "columns");
    const method = config("method.yaml", "data:\n  recheck: carry-the-one\n");
    assert.throws(() => resolveConfig(PretrainSchema, { config: method }), /data\.recheck/);
    assert.equal(ok.data.lose_thread, 0.05);
    const lost = config("lost.yaml", "data:\n  corpus: v2\n  lose_thread: 0.12\n");
    assert.equal(resolveConfig(PretrainSchema, { config: lost }).data.lose_thread, 0.12);
    const negative = config("negative.yaml", "data:\n  lose_thread: -0.1\n");
    assert.throws(() => resolveConfig(PretrainSchema, { config: negative }), /data\.lose_thread: Too small/);
    const over = config("over.yaml", "data:\n  cross_check: 1.5\n");
    assert.throws(() => resolveConfig(PretrainSchema, { config: over }), /data\.cross_check: Too big/);
  });
});

test("a positive-integer flag names itself and the value it refused", () => {
  assert.equal(positiveIntFlag("5", "seeds"), 5);
  for (const bad of ["0", "-2", "1.5", "five", ""])
    assert.throws(
      () => positiveIntFlag(bad, "seeds"),
      (e: Error) => e.message === `--seeds must be a positive integer, got "${bad}"`,
    );
});
