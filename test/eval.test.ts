// The evaluation harness: summaries agree with the per-problem records, sampling is seeded,
// and templates and sources resolve as documented.

import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { Random } from "../src/engine/random.ts";
import { evaluate } from "../src/eval/evaluate.ts";
import { passAtK } from "../src/eval/metrics.ts";
import { applyTemplate, loadProblems, makeGrader } from "../src/eval/sources.ts";
import { loadCodec, resolveModelDir, tokenizerDir } from "../src/model/open.ts";
import { toyCodec, toyModel } from "./helpers/toy-rl.ts";

const problems = [
  { id: "a", prompt: "a", answer: "b" },
  { id: "b", prompt: "ba", answer: "c" },
  { id: "c", prompt: "gg", answer: "d" },
];

const opts = (seed: number) => ({
  k: 6,
  temperature: 1,
  topP: 1,
  maxNewTokens: 3,
  batchSize: 4,
  rng: new Random(seed),
  grade: (text: string, gold: string) => ({
    answer: text.slice(0, 1) || null,
    correct: text.startsWith(gold),
  }),
  transitionalRate: (text: string) => (text.includes("f") ? 50 : 0),
});

describe("evaluation harness", () => {
  test("an RL checkpoint (weights only) uses the tokenizer of the model its run started from", () => {
    const root = mkdtempSync(join(tmpdir(), "rlif-ckpt-"));
    try {
      const model = join(root, "model");
      mkdirSync(model);
      copyFileSync(join(resolveModelDir("organism-base"), "tokenizer.json"), join(model, "tokenizer.json"));
      const ckpt = join(root, "run", "checkpoints", "step-0000004");
      mkdirSync(ckpt, { recursive: true });
      assert.equal(tokenizerDir(ckpt), ckpt, "no run config: the folder itself (and its error)");
      assert.throws(() => loadCodec(ckpt), /tokenizer\.json/);
      writeFileSync(join(root, "run", "config.resolved.json"), "{ model_dir");
      assert.throws(() => tokenizerDir(ckpt), /config\.resolved\.json: not valid JSON/);
      writeFileSync(join(root, "run", "config.resolved.json"), JSON.stringify({ model_dir: model }));
      assert.equal(tokenizerDir(ckpt), model);
      assert.deepEqual(loadCodec(ckpt).encode("12+3"), loadCodec(model).encode("12+3"));
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  test("greedy responses run in the largest batch that fits; samples keep batchSize", async () => {
    const many = Array.from({ length: 10 }, (_, i) => ({ ...problems[i % 3], id: `p${i}` }));
    const chunks: number[] = [];
    let last = 0;
    const o = {
      ...opts(2),
      k: 1,
      onProgress: (done: number) => {
        chunks.push(done - last);
        last = done;
      },
    };
    await evaluate(toyModel(3), toyCodec, many, o);
    assert.deepEqual(chunks, [10, 4, 4, 2]);
  });

  test("summary statistics are those of the records", async () => {
    const { records, summary } = await evaluate(toyModel(3), toyCodec, problems, opts(1));
    assert.equal(summary.n, 3);
    const greedy = records.filter((r) => r.greedy.correct).length / 3;
    assert.equal(summary.greedy_accuracy, greedy);
    const mean = records.reduce((a, r) => a + r.samples.filter((s) => s.correct).length / 6, 0) / 3;
    assert.ok(Math.abs(summary.mean_at_k! - mean) < 1e-12);
    // pass@1 estimated from n samples equals mean@n; pass@k follows the unbiased estimator.
    assert.ok(Math.abs(summary.pass_at_k!["1"] - mean) < 1e-12);
    for (const r of records) {
      const c = r.samples.filter((s) => s.correct).length;
      assert.equal(r.passAtK!["4"], passAtK(6, c, 4));
      assert.equal(r.samples.length, 6);
      for (const s of r.samples) {
        assert.ok(s.length >= 1 && s.length <= 3);
        assert.ok(s.meanEntropy > 0 && s.meanEntropy <= Math.log(8) + 1e-6);
        assert.ok(Math.abs(s.meanLogp * s.length - s.trajectoryLogp) < 1e-9);
      }
    }
    const sampled = records.flatMap((r) => r.samples);
    const reflect = sampled.filter((s) => s.text.includes("f")).length / sampled.length;
    assert.ok(Math.abs(summary.sampled!.reflection_frac - reflect) < 1e-12);
  });

  test("the same seed gives the same samples; another seed differs", async () => {
    const m = toyModel(3);
    const texts = async (seed: number) =>
      (await evaluate(m, toyCodec, problems, opts(seed))).records.flatMap((r) =>
        r.samples.map((s) => s.text),
      );
    assert.deepEqual(await texts(5), await texts(5));
    assert.notDeepEqual(await texts(5), await texts(6));
  });

  test("sources: organism splits are seeded and templated; JSONL errors name file and line", () => {
    const a = loadProblems("organism:test-id", 5);
    assert.deepEqual(a, loadProblems("organism:test-id", 5));
    assert.equal(a.length, 5);
    assert.match(applyTemplate(a[0].problem, "base"), /^Problem: .*\nSolution:$/s);
    assert.match(applyTemplate(a[0].problem, "instruct"), /^<\|user\|>\n.*\n<\|assistant\|>\n$/s);
    assert.throws(() => loadProblems("organism:nope", 1), /unknown organism split/);
    const dir = mkdtempSync(join(tmpdir(), "rlif-eval-"));
    try {
      const f = join(dir, "p.jsonl");
      writeFileSync(f, '{"problem": "1+1?", "answer": "2"}\n{"problem": "x"}\n');
      assert.throws(
        () => loadProblems(f, 10),
        (e: Error) => e.message.includes(f) && /:2\b/.test(e.message),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const g = makeGrader("organism:test-id");
    assert.deepEqual(g("so \\boxed{12}.", "12"), { answer: "12", correct: true });
    assert.equal(g("the answer is 12", "12").correct, false, "organism answers must be boxed");
  });
});
