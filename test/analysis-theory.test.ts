// Theory checks: the KL identities per token (hand-computed) and, on a tiny random model in
// float64, the checks on real sampled rollouts (sampler values = full-vocabulary definitions;
// chain rule within Monte-Carlo error).

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { theoryChecks, tokenDist } from "../src/analysis/theory.ts";
import type { Backend } from "../src/engine/backend.ts";
import { CpuBackend } from "../src/engine/backends/cpu/backend.ts";
import { getBackend, setBackend } from "../src/engine/tensor.ts";
import { parseModelConfig } from "../src/model/config.ts";
import { Transformer } from "../src/model/transformer.ts";
import { toyCodec } from "./helpers/toy-rl.ts";

let prev: Backend;
before(() => {
  prev = getBackend();
  setBackend(new CpuBackend("f64"));
});
after(() => setBackend(prev));

test("tokenDist: entropy, both KLs and log p by hand for p = (1/6, 2/6, 3/6)", () => {
  const p = [1 / 6, 2 / 6, 3 / 6];
  const d = tokenDist([0, Math.log(2), Math.log(3)], 2);
  const H = -(p[0] * Math.log(p[0]) + p[1] * Math.log(p[1]) + p[2] * Math.log(p[2]));
  const klPU = p[0] * Math.log(3 * p[0]) + p[1] * Math.log(3 * p[1]) + p[2] * Math.log(3 * p[2]);
  const klUP = (Math.log(1 / (3 * p[0])) + Math.log(1 / (3 * p[1])) + Math.log(1 / (3 * p[2]))) / 3;
  for (const [a, b] of [
    [d.H, H],
    [d.klPU, klPU],
    [d.klUP, klUP],
    [d.logp, Math.log(0.5)],
  ])
    assert.ok(Math.abs(a - b) < 1e-14, `${a} vs ${b}`);
  const u = tokenDist([5, 5, 5, 5], 0);
  assert.ok(Math.abs(u.H - Math.log(4)) < 1e-14 && Math.abs(u.klPU) < 1e-14 && Math.abs(u.klUP) < 1e-14);
});

test("on sampled rollouts of a random model: identities hold and the chain rule is within 3 SE", async () => {
  const model = Transformer.init(
    parseModelConfig({
      vocab_size: 8,
      hidden_size: 16,
      intermediate_size: 32,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      max_position_embeddings: 16,
      initializer_range: 0.5, // far from uniform, so the checks are not trivially zero
    }),
    3,
  );
  const prompts = [
    { text: "ab", answer: "c" },
    { text: "ca", answer: "d" },
  ];
  const r = await theoryChecks(model, toyCodec, prompts, {
    samplesPerPrompt: 150,
    maxNewTokens: 6,
    seed: 1,
    grade: (text, gold) => text.startsWith(gold),
  });
  assert.equal(r.responses, 300);
  assert.equal(r.vocab, 8);
  assert.ok(r.entropyIdentityMaxErr < 1e-12, `entropy identity ${r.entropyIdentityMaxErr}`);
  assert.ok(r.minKlPU > 0 && r.minKlUP > 0);
  // The sampler stores float32: agreement to float32 rounding.
  assert.ok(r.selfCertaintyMaxErr < 1e-5, `self-certainty ${r.selfCertaintyMaxErr}`);
  assert.ok(r.samplerEntropyMaxErr < 1e-5 && r.samplerLogpMaxErr < 1e-5);
  const c = r.chain;
  assert.ok(c.se > 0 && c.z !== null && Math.abs(c.z) < 3, `chain rule z = ${c.z}`);
  assert.ok(Math.abs(c.meanNegLogp - c.meanSumEntropy - c.diff) < 1e-9);
  // Self-certainty and token entropy move together on a near-random model; correlations are defined.
  const sc = r.correlations["self-certainty~token-entropy"];
  assert.ok(sc !== null && sc > 0.5, `corr ${sc}`);
  assert.ok("self-certainty~correctness" in r.correlations);
  assert.ok(r.accuracy !== null && r.accuracy >= 0 && r.accuracy <= 1);
});
