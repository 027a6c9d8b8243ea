// Blocked decoding (SampleOptions.block): an empty block changes nothing, a forbidden token is never
// drawn (sampled or greedy), and the draw and statistics are those of the renormalised distribution.
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { WasmBackend } from "../src/engine/backends/cpu/wasm-backend.ts";
import { Random } from "../src/engine/random.ts";
import { getBackend, setBackend, tidy } from "../src/engine/tensor.ts";
import { parseModelConfig } from "../src/model/config.ts";
import { allowedTokens, pickToken, type Sample, type SampleOptions, sample } from "../src/model/sample.ts";
import { Transformer } from "../src/model/transformer.ts";

const config = parseModelConfig({
  vocab_size: 13,
  hidden_size: 16,
  intermediate_size: 24,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 48,
  initializer_range: 0.3,
});
const prompts = [[1, 2, 3], [4], [5, 6], [7, 8, 9, 10]];
const flat = (ss: Sample[]) =>
  ss.map((s) => ({
    tokens: s.tokens,
    stopped: s.stopped,
    logp: Array.from(s.logp),
    entropy: Array.from(s.entropy),
    selfCertainty: Array.from(s.selfCertainty),
  }));

/** A Random whose draws are fixed numbers. */
class FixedRandom extends Random {
  constructor(private readonly u: number) {
    super(0);
  }
  override next(): number {
    return this.u;
  }
}

const wasm = new WasmBackend({ threads: 1 });
after(() => wasm.dispose());

describe("blocked decoding", () => {
  for (const temperature of [1, 0])
    test(`an empty block gives the unblocked tokens and statistics (temperature ${temperature}, reference and fused)`, async () => {
      for (const backend of [getBackend(), wasm]) {
        const prev = getBackend();
        setBackend(backend);
        try {
          const model = Transformer.init(config, 4);
          const o: SampleOptions = { maxNewTokens: 12, temperature, stopTokens: [0] };
          const r1 = new Random(7);
          const r2 = new Random(7);
          const plain = await sample(model, prompts, { ...o, rng: r1 });
          let calls = 0;
          const blocked = await sample(model, prompts, {
            ...o,
            rng: r2,
            block: () => {
              calls++;
              return [];
            },
          });
          assert.ok(calls > 0, "the block was consulted");
          assert.deepEqual(flat(blocked), flat(plain));
          assert.equal(r2.state, r1.state);
        } finally {
          setBackend(prev);
        }
      }
    });

  test("a forbidden token is never drawn, and the block sees the tokens generated so far", async () => {
    const model = Transformer.init(config, 5);
    // Forbid the tokens that share the parity of the previous token (all odd ones at the start).
    const block = (g: readonly number[]) => {
      const parity = g.length ? g[g.length - 1] % 2 : 1;
      return Array.from({ length: config.vocab_size }, (_, j) => j).filter((j) => j % 2 === parity);
    };
    const o: SampleOptions = { maxNewTokens: 20, temperature: 1.5, stopTokens: [] };
    const free = await sample(model, prompts, { ...o, seed: 3 });
    const violations = (ss: Sample[]) =>
      ss.reduce((n, s) => n + s.tokens.filter((t, i) => block(s.tokens.slice(0, i)).includes(t)).length, 0);
    assert.ok(violations(free) > 10, "unblocked sampling does draw such tokens");
    for (const extra of [{}, { topP: 0.8 }, { topK: 3 }, { temperature: 0 }]) {
      const ss = await sample(model, prompts, { ...o, ...extra, seed: 3, block });
      assert.equal(violations(ss), 0, JSON.stringify(extra));
      for (const s of ss) assert.equal(s.tokens.length, 20);
    }
  });

  test("greedy decoding takes the argmax of the allowed tokens of a full forward pass", async () => {
    const model = Transformer.init(config, 6);
    const forbid = [2, 5, 8, 11];
    const [s] = await sample(model, [[1, 2]], { maxNewTokens: 6, temperature: 0, block: () => forbid });
    const seq = [1, 2];
    for (let t = 0; t < s.tokens.length; t++) {
      const logits = tidy(() => model.forward(Int32Array.from(seq), 1, seq.length)).toArray();
      const row = Array.from(logits.slice((seq.length - 1) * config.vocab_size));
      const best = row.reduce((b, x, j) => (!forbid.includes(j) && (b < 0 || x > row[b]) ? j : b), -1);
      assert.equal(s.tokens[t], best);
      // Statistics of the distribution over the allowed tokens (float32 logits, so a tolerance).
      const allowed = row.filter((_, j) => !forbid.includes(j));
      const lse = Math.log(allowed.reduce((a, x) => a + Math.exp(x), 0));
      assert.ok(Math.abs(s.logp[t] - (row[best] - lse)) < 1e-4);
      seq.push(s.tokens[t]);
    }
  });

  test("renormalisation, by hand: logits ln(1, 2, 3, 2), token 2 forbidden", () => {
    const z = Float64Array.from([1, 2, 3, 2], Math.log);
    const allowed = allowedTokens(4, [2]);
    assert.deepEqual(allowed, [0, 1, 3]);
    // Allowed probabilities 1/5, 2/5, 2/5: cumulative 0.2, 0.6, 1.
    assert.equal(pickToken(z, allowed, false, new FixedRandom(0.1)).token, 0);
    assert.equal(pickToken(z, allowed, false, new FixedRandom(0.5)).token, 1);
    const p = pickToken(z, allowed, false, new FixedRandom(0.7));
    assert.equal(p.token, 3, "u = 0.7 lands on token 3, past the forbidden one");
    assert.ok(Math.abs(p.logp - Math.log(0.4)) < 1e-12);
    const H = -(0.2 * Math.log(0.2) + 2 * 0.4 * Math.log(0.4));
    assert.ok(Math.abs(p.H - H) < 1e-12);
    // KL(U || p) over the three allowed tokens: −log 3 − (log 0.2 + 2 log 0.4) / 3.
    const sc = -Math.log(3) - (Math.log(0.2) + 2 * Math.log(0.4)) / 3;
    assert.ok(Math.abs(p.sc - sc) < 1e-12);
    // Unblocked, u = 0.7 falls on token 2 (cumulative 1/8, 3/8, 6/8).
    assert.equal(pickToken(z, null, false, new FixedRandom(0.7)).token, 2);
    assert.equal(pickToken(z, allowed, true, new FixedRandom(0)).token, 1, "greedy: ties go to the first");
  });

  test("bad blocks are refused clearly", () => {
    assert.throws(() => allowedTokens(4, [4]), /token id 4 is not in a vocabulary of 4/);
    assert.throws(() => allowedTokens(2, [0, 1]), /every token of the vocabulary is forbidden/);
  });
});
