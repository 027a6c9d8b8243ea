// The transformer: KV-cache decoding equals a full forward, sampling is seeded, training learns.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { AdamW, clipGradNorm, learningRate } from "../src/engine/optim.ts";
import { backward, tidy } from "../src/engine/tensor.ts";
import { parseModelConfig } from "../src/model/config.ts";
import { nextTokenLoss } from "../src/model/loss.ts";
import { distributionStats, sample } from "../src/model/sample.ts";
import { KVCache, Transformer } from "../src/model/transformer.ts";
import { withF64 } from "./helpers/gradcheck.ts";

const config = parseModelConfig({
  vocab_size: 11,
  hidden_size: 16,
  intermediate_size: 24,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 64,
  initializer_range: 0.3,
});

describe("transformer", () => {
  test("KV-cache decoding gives the logits of a full forward pass", () => {
    withF64(() => {
      const model = Transformer.init(config, 1);
      const seqs = [
        [1, 5, 2, 7, 3, 3, 9],
        [4, 4, 8, 1, 0, 6, 2],
      ];
      const T = 7;
      const full = tidy(() => model.forward(Int32Array.from(seqs.flat()), 2, T)).toArray();
      // Prefill different prompt lengths (3 and 5), then decode one token at a time.
      const lens = [3, 5];
      const cache = new KVCache(model, 2, T);
      const ids = new Int32Array(2 * 5);
      for (let b = 0; b < 2; b++) ids.set(seqs[b].slice(0, lens[b]), b * 5);
      const pre = tidy(() => model.forwardCached(ids, 2, 5, cache, new Int32Array(2))).toArray();
      const V = config.vocab_size;
      for (let b = 0; b < 2; b++)
        for (let t = 0; t < lens[b]; t++)
          for (let j = 0; j < V; j++)
            assert.ok(Math.abs(pre[(b * 5 + t) * V + j] - full[(b * T + t) * V + j]) < 1e-10);
      // Logits of selected rows only (each prompt's last token), as the sampler asks for them.
      const lastRows = Int32Array.from(lens, (n, b) => b * 5 + n - 1);
      const spare = new KVCache(model, 2, T);
      const picked = tidy(() => model.forwardCached(ids, 2, 5, spare, new Int32Array(2), lastRows)).toArray();
      spare.dispose();
      assert.equal(picked.length, 2 * V);
      for (let b = 0; b < 2; b++)
        for (let j = 0; j < V; j++) assert.equal(picked[b * V + j], pre[lastRows[b] * V + j]);
      const pos = Int32Array.from(lens);
      for (let step = 0; step < 2; step++) {
        const next = Int32Array.from(seqs.map((s, b) => s[pos[b]]));
        const out = tidy(() => model.forwardCached(next, 2, 1, cache, pos)).toArray();
        for (let b = 0; b < 2; b++)
          for (let j = 0; j < V; j++)
            assert.ok(
              Math.abs(out[b * V + j] - full[(b * T + pos[b]) * V + j]) < 1e-10,
              `step ${step} seq ${b}`,
            );
        for (let b = 0; b < 2; b++) pos[b]++;
      }
      cache.dispose();
    });
  });

  test("sampling is reproducible from a seed and records per-token statistics", async () => {
    const model = Transformer.init(config, 2);
    const prompts = [[1, 2, 3], [4], [5, 6]];
    const opts = { maxNewTokens: 8, temperature: 1, topP: 0.9, stopTokens: [0], seed: 42 };
    const a = await sample(model, prompts, opts);
    const b = await sample(model, prompts, opts);
    assert.deepEqual(
      a.map((s) => s.tokens),
      b.map((s) => s.tokens),
    );
    const c = await sample(model, prompts, { ...opts, seed: 43 });
    assert.notDeepEqual(
      a.map((s) => s.tokens),
      c.map((s) => s.tokens),
    );
    for (const s of a) {
      assert.equal(s.logp.length, s.tokens.length);
      assert.ok(s.tokens.length <= 8);
      if (s.stopped) assert.equal(s.tokens.at(-1), 0);
      else assert.equal(s.tokens.length, 8);
      for (let t = 0; t < s.tokens.length; t++) {
        assert.ok(s.logp[t] <= 0 && s.entropy[t] >= 0 && s.selfCertainty[t] >= -1e-6);
        assert.ok(s.entropy[t] <= Math.log(config.vocab_size) + 1e-5);
      }
    }
  });

  test("greedy decoding follows the argmax of a full forward pass", async () => {
    const model = Transformer.init(config, 3);
    const [s] = await sample(model, [[1, 2]], { maxNewTokens: 5, temperature: 0 });
    const seq = [1, 2];
    for (const tok of s.tokens) {
      const logits = tidy(() => model.forward(Int32Array.from(seq), 1, seq.length)).toArray();
      const row = logits.slice((seq.length - 1) * config.vocab_size);
      assert.equal(tok, row.indexOf(Math.max(...row)));
      seq.push(tok);
    }
  });

  test("distribution statistics satisfy the spec's identities", () => {
    const z = [2, -1, 0.5, 3, -4];
    const st = distributionStats(z);
    const V = z.length;
    // -H = KL(p || U) - log V and sc = KL(U || p).
    let klPU = 0;
    let klUP = 0;
    for (let j = 0; j < V; j++) {
      klPU += st.probs[j] * Math.log(st.probs[j] * V);
      klUP += (1 / V) * Math.log(1 / V / st.probs[j]);
    }
    assert.ok(Math.abs(-st.H - (klPU - Math.log(V))) < 1e-12);
    assert.ok(Math.abs(st.sc - klUP) < 1e-12);
  });

  test("AdamW with warm-up/cosine and clipping fits a repeated sequence", () => {
    const model = Transformer.init(config, 4);
    const opt = new AdamW(model.parameters(), { lr: 3e-2, weightDecay: 0 });
    const ids = Int32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8]);
    const losses: number[] = [];
    for (let step = 0; step < 40; step++) {
      tidy(() => {
        opt.zeroGrad();
        const { loss } = nextTokenLoss(model, ids, 2, 8);
        backward(loss);
        losses.push(loss.item());
        clipGradNorm(model.parameters().values(), 1.0);
        opt.update(learningRate(step, { lr: 3e-2, totalSteps: 40, warmupSteps: 4 }));
      });
    }
    assert.ok(losses[0] > 2, `initial loss ${losses[0]} should be near log(11)`);
    assert.ok(losses.at(-1)! < 0.1, `final loss ${losses.at(-1)}`);
  });

  test("learning-rate schedule: linear warm-up, cosine to the floor", () => {
    const o = { lr: 1, totalSteps: 110, warmupSteps: 10, minLrRatio: 0.1 };
    assert.equal(learningRate(0, o), 0.1);
    assert.equal(learningRate(9, o), 1);
    assert.ok(Math.abs(learningRate(10, o) - 1) < 1e-12);
    assert.ok(Math.abs(learningRate(60, o) - 0.55) < 1e-12);
    assert.ok(Math.abs(learningRate(110, o) - 0.1) < 1e-12);
  });
});
