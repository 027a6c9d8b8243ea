// The rlif command on real Hugging Face folders, end to end in a child process: eval through the
// chat template, a short RL run, its checkpoint exported in the hub layout (BF16, sharded) and
// evaluated again, info, and a model too big for the backend refused at once.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { loadModel } from "../src/model/checkpoint.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const HF = join(ROOT, "test", "fixtures", "hf");
const tmp = mkdtempSync(join(tmpdir(), "rlif-hf-cli-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

function rlif(...args: string[]): { code: number | null; out: string; err: string; ms: number } {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [join(ROOT, "bin", "rlif.mjs"), "--threads", "1", ...args], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 120_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr, ms: Date.now() - t0 };
}

const bench = join(tmp, "bench.jsonl");
writeFileSync(
  bench,
  '{"id": "a", "problem": "What is $2+3$?", "answer": "5"}\n{"id": "b", "problem": "Compute $7 \\\\times 6$.", "answer": "42"}\n',
);

describe("rlif on Hugging Face folders", () => {
  test("eval: the chat-template prompt, graded by rlif's grader", () => {
    const out = join(tmp, "eval.json");
    const r = rlif(
      "eval",
      "--model",
      join(HF, "llama-tiny"),
      "--bench",
      bench,
      "--max-new-tokens",
      "4",
      "--out",
      out,
    );
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /llama-tiny \(llama, instruct prompt: chat template in tokenizer_config\.json\)/);
    const res = JSON.parse(readFileSync(out, "utf8"));
    assert.equal(res.template, "instruct");
    assert.equal(res.results[bench].summary.n, 2);
  });

  test("train, export the checkpoint as BF16 shards, evaluate the export", () => {
    const run = join(tmp, "run");
    const t = rlif(
      "train",
      ...["--model", join(HF, "qwen3-tiny"), "--data.source", bench, "--eval.source", bench],
      ...[
        "--eval.limit",
        "2",
        "--steps",
        "1",
        "--rollout.prompts_per_step",
        "2",
        "--rollout.group_size",
        "2",
      ],
      ...["--rollout.max_new_tokens", "4", "--reward", "self-certainty", "--out", run],
    );
    assert.equal(t.code, 0, t.err);
    const ckpt = join(run, "checkpoints", "step-0000001");
    const exported = join(tmp, "export");
    const e = rlif(
      "export",
      "--model",
      ckpt,
      "--out",
      exported,
      "--dtype",
      "bf16",
      "--max-shard-size",
      "20KB",
    );
    assert.equal(e.code, 0, e.err);
    assert.match(
      e.out,
      /model-00001-of-00002\.safetensors, model-00002-of-00002\.safetensors, model\.safetensors\.index\.json/,
    );
    assert.match(e.out, /tokenizer\.json, tokenizer_config\.json, generation_config\.json/);
    // BF16 keeps the trained weights to bfloat16 precision.
    const a = loadModel(ckpt).p("model.layers.1.self_attn.q_norm.weight").readSync();
    const b = loadModel(exported).p("model.layers.1.self_attn.q_norm.weight").readSync();
    for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= Math.abs(a[i]) * 2 ** -8);
    const info = rlif("info", exported);
    assert.equal(info.code, 0, info.err);
    assert.match(info.out, /qwen3 \(Qwen3ForCausalLM\), 14\.2K parameters, stored BF16 in 2 shards/);
    assert.match(info.out, /wasm +limit 4\.0 GiB +eval .*\(fits\) +train .*\(fits\)/);
    const ev = rlif("eval", "--model", exported, "--bench", bench, "--max-new-tokens", "2");
    assert.equal(ev.code, 0, ev.err);
  });

  test("a model the wasm backend cannot hold is refused before loading", () => {
    const dir = join(tmp, "Qwen2.5-1.5B-Instruct");
    cpSync(join(HF, "qwen2-tiny"), dir, { recursive: true });
    const cfg = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
    const big = {
      hidden_size: 1536,
      intermediate_size: 8960,
      num_hidden_layers: 28,
      num_attention_heads: 12,
    };
    writeFileSync(join(dir, "config.json"), JSON.stringify({ ...cfg, ...big, vocab_size: 151936 }));
    const r = rlif(
      "train",
      "--model",
      dir,
      "--data.source",
      bench,
      "--eval.source",
      bench,
      "--out",
      join(tmp, "no"),
    );
    assert.equal(r.code, 1);
    assert.match(
      r.err,
      /1\.54B parameters .* needs about .* GiB, but the wasm backend's WebAssembly memory holds at most 4 GiB/,
    );
  });
});
