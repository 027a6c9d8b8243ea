// Fused decoding (Backend.decode: wasm/decoder.ts, assembly/decode.ts) against the op-by-op path
// of model/sample.ts: the same tokens, stop flags, per-token statistics (bit for bit) and RNG
// state after, for a seed, at one and two threads; and the same tokens at one and two threads.
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { WasmBackend } from "../src/engine/backends/cpu/wasm-backend.ts";
import { Random } from "../src/engine/random.ts";
import { getBackend } from "../src/engine/tensor.ts";
import { loadModel } from "../src/model/checkpoint.ts";
import { parseModelConfig } from "../src/model/config.ts";
import { largestBatch, type Sample, type SampleOptions, sample } from "../src/model/sample.ts";
import { KVCache, Transformer } from "../src/model/transformer.ts";
import { withBackendAsync } from "./helpers/backend.ts";

const backends = [new WasmBackend({ threads: 1 }), new WasmBackend({ threads: 2 })];
after(() => {
  for (const b of backends) b.dispose();
});

/** Everything a sample carries, as plain numbers (Float32 values exactly). */
function flat(samples: Sample[]) {
  return samples.map((s) => ({
    tokens: s.tokens,
    stopped: s.stopped,
    logp: Array.from(s.logp),
    entropy: Array.from(s.entropy),
    selfCertainty: Array.from(s.selfCertainty),
  }));
}

/** Runs both paths from the same seed; returns the fused result and the RNG state after. */
async function both(model: Transformer, prompts: number[][], o: SampleOptions) {
  const r1 = new Random(o.seed ?? 0);
  const r2 = new Random(o.seed ?? 0);
  const calls = (getBackend() as WasmBackend).calls;
  const before = calls.serial + calls.parallel;
  const ref = await sample(model, prompts, { ...o, rng: r1, fused: false });
  const mid = calls.serial + calls.parallel;
  const fused = await sample(model, prompts, { ...o, rng: r2 });
  const after = calls.serial + calls.parallel;
  assert.deepEqual(flat(fused), flat(ref));
  assert.equal(r2.state, r1.state, "RNG state after sampling");
  return { fused, rng: r2.state, refCalls: mid - before, fusedCalls: after - mid };
}

const prompts = Array.from({ length: 11 }, (_, b) =>
  Array.from({ length: 2 + ((b * 3) % 7) }, (_, i) => 2 + ((b * 7 + i * 5) % 27)),
);

// Bias (qwen2) or not, tied or untied head, a head size other than hidden / heads, V not a
// multiple of 4.
const configs = {
  "qwen2, tied": { model_type: "qwen2", tie_word_embeddings: true },
  "llama, untied, head_dim 16": { model_type: "llama", tie_word_embeddings: false, head_dim: 16 },
};

describe("fused decoding equals the op-by-op path", () => {
  for (const [name, extra] of Object.entries(configs))
    for (const be of backends)
      for (const temperature of [1, 0.7, 0])
        test(`${name}, ${be.threads} thread(s), temperature ${temperature}`, async () => {
          await withBackendAsync(be, async () => {
            const config = parseModelConfig({
              vocab_size: 29,
              hidden_size: 32,
              intermediate_size: 48,
              num_hidden_layers: 2,
              num_attention_heads: 4,
              num_key_value_heads: 2,
              max_position_embeddings: 24,
              initializer_range: 0.5,
              ...extra,
            });
            const model = Transformer.init(config, 7);
            // Short max positions: some sequences hit the model's end before maxNewTokens.
            const { fused, fusedCalls, refCalls } = await both(model, prompts, {
              maxNewTokens: 20,
              temperature,
              stopTokens: [3, 4],
              padToken: 1,
              seed: 11,
            });
            assert.ok(fused.some((s) => s.stopped) && fused.some((s) => !s.stopped));
            assert.ok(fusedCalls < refCalls / 5, `fused ${fusedCalls} kernel calls, op by op ${refCalls}`);
          });
        });

  test("the organism, 24 sequences: same tokens at one and two threads", async () => {
    const runs = [];
    for (const be of backends)
      runs.push(
        await withBackendAsync(be, async () => {
          const model = loadModel(new URL("../models/organism-base", import.meta.url).pathname);
          const ps = Array.from({ length: 24 }, (_, b) => prompts[b % prompts.length].map((t) => t + 30));
          const o = { maxNewTokens: 40, temperature: 1, stopTokens: [0], padToken: 1, seed: 5 };
          const { fused, rng } = await both(model, ps, o);
          return { tokens: flat(fused), rng };
        }),
      );
    assert.deepEqual(runs[1], runs[0]);
  });

  test("top-p, maxNewTokens 0, and a model the kernels do not take run op by op", async () => {
    await withBackendAsync(backends[1], async () => {
      const config = parseModelConfig({
        vocab_size: 29,
        hidden_size: 32,
        intermediate_size: 48,
        num_hidden_layers: 1,
        num_attention_heads: 4,
        num_key_value_heads: 2,
        max_position_embeddings: 32,
        initializer_range: 0.5,
      });
      const model = Transformer.init(config, 2);
      const s = await both(model, prompts, { maxNewTokens: 6, topP: 0.9, seed: 3 });
      assert.equal(s.fusedCalls, s.refCalls);
      const none = await both(model, prompts, { maxNewTokens: 0, seed: 3 });
      assert.ok(none.fused.every((x) => x.tokens.length === 0));
      // Head size 4: Backend.decode declines, having done nothing.
      const small = Transformer.init(parseModelConfig({ ...config, num_attention_heads: 8 }), 2);
      const cache = new KVCache(small, 2, 4);
      try {
        const be = getBackend();
        assert.ok(be.decode);
        const plan = small.decoderPlan(cache);
        assert.ok(plan);
        const out = be.decode(plan, {
          logits: be.alloc(2 * 29),
          rows: new Int32Array([0, 1]),
          positions: new Int32Array([1, 1]),
          limits: new Int32Array([2, 2]),
          maxNewTokens: 2,
          temperature: 1,
          stopTokens: [],
          rngState: 0,
        });
        assert.equal(out, null);
      } finally {
        cache.dispose();
      }
      await both(small, prompts, { maxNewTokens: 4, seed: 1 });
    });
  });

  test("greedy responses do not depend on the batch (what evaluation's batching relies on)", async () => {
    await withBackendAsync(backends[1], async () => {
      const model = loadModel(new URL("../models/organism-base", import.meta.url).pathname);
      const o = { maxNewTokens: 30, temperature: 0, stopTokens: [0], padToken: 1 };
      for (const fused of [true, false]) {
        const together = await sample(model, prompts, { ...o, fused });
        const alone = [];
        for (const p of prompts) alone.push(...(await sample(model, [p], { ...o, fused })));
        assert.deepEqual(flat(together), flat(alone));
      }
      // Per sequence: KV caches (2 x L x capacity x Hkv x D floats), one block's activations of the
      // prompt pass (prompt x (4d + 2 q width + 3 ff)) and one row of logits (V).
      const perSeq = 4 * (2 * 4 * (10 + 30) * 2 * 32 + 10 * (4 * 128 + 2 * 128 + 3 * 384) + 102);
      assert.equal(largestBatch(model, 10, 30, 100 * perSeq + 5), 100);
      assert.equal(largestBatch(model, 10, 30, 1), 1);
    });
  });

  test("decoding leaves the backend's memory as it found it", async () => {
    await withBackendAsync(backends[1], async () => {
      const model = loadModel(new URL("../models/organism-base", import.meta.url).pathname);
      const o = { maxNewTokens: 30, temperature: 1, stopTokens: [0], padToken: 1, seed: 9 };
      await sample(model, prompts, o); // first run: scratch and rope tables grow to size
      const before = backends[1].memoryStats().inUse;
      await sample(model, prompts, o);
      assert.equal(backends[1].memoryStats().inUse, before);
    });
  });
});
