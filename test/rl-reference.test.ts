// The reference policy's log-probs (rl/reference.ts): batched passes equal one sequence at a time
// bit for bit, and a step scores each rollout once, however many updates use it.
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { WasmBackend } from "../src/engine/backends/cpu/wasm-backend.ts";
import { AdamW } from "../src/engine/optim.ts";
import { getBackend, setBackend } from "../src/engine/tensor.ts";
import { loadModel } from "../src/model/checkpoint.ts";
import type { Transformer } from "../src/model/transformer.ts";
import { optimize, update } from "../src/rl/optimize.ts";
import { referenceLogprobs, withReference } from "../src/rl/reference.ts";
import type { Rollout } from "../src/rl/rollout.ts";
import { EOS, toyConfig, toyModel } from "./helpers/toy-rl.ts";

const wasm = new WasmBackend({ threads: 2 });
after(() => wasm.dispose());

function rollouts(n: number, V: number, maxPrompt: number, maxResponse: number, seed = 7): Rollout[] {
  let s = seed;
  const rnd = (k: number) => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s % k;
  };
  return Array.from({ length: n }, (_, i) => {
    const R = rnd(maxResponse + 1); // an empty response too, now and then
    return {
      promptIds: Array.from({ length: 1 + rnd(maxPrompt) }, () => rnd(V)),
      responseIds: Array.from({ length: R }, () => rnd(V)),
      responseText: "",
      logp: new Float32Array(R).fill(-1),
      entropy: new Float32Array(R),
      selfCertainty: new Float32Array(R),
      truncated: false,
      group: i >> 2,
    };
  });
}

/** Counts the model's forward passes. */
function counted(m: Transformer): { model: Transformer; calls: () => number } {
  let n = 0;
  const forward = m.forward.bind(m);
  m.forward = (ids, B, T) => {
    n++;
    return forward(ids, B, T);
  };
  return { model: m, calls: () => n };
}

describe("reference log-probs", () => {
  test("batched passes equal one sequence at a time, bit for bit (organism, 2 threads)", async () => {
    const prev = getBackend();
    setBackend(wasm);
    try {
      const ref = loadModel(new URL("../models/organism-base", import.meta.url).pathname);
      const rs = rollouts(20, ref.dims.V, 24, 90);
      for (const temperature of [1, 0.7]) {
        const one = [];
        for (const r of rs) one.push((await referenceLogprobs(ref, [r], temperature, 1))[0]);
        const all = await referenceLogprobs(ref, rs, temperature, 1);
        // a budget of ~3 sequences per pass: batches of different sizes and lengths
        const some = await referenceLogprobs(ref, rs, temperature, 1, 3 * 115 * ref.dims.V);
        assert.deepEqual(all, one);
        assert.deepEqual(some, one);
        for (const [i, r] of rs.entries()) assert.equal(all[i].length, r.responseIds.length);
      }
    } finally {
      setBackend(prev);
    }
  });

  test("a KL in the loss scores each rollout once per step, whatever the epochs and mini-batches", async () => {
    const cfg = toyConfig("unused", { algo: { kl_coef: 0.1, epochs: 3, mini_batches: 2 } });
    const settings = {
      algo: cfg.algo,
      temperature: 0.8,
      gradClip: 1,
      maxLen: 4,
      pad: EOS,
      schedule: { lr: 0.01, totalSteps: 1, warmupSteps: 0, minLrRatio: 0, kind: "constant" as const },
      seed: 0,
    };
    const ref = counted(toyModel(1));
    const model = toyModel(2);
    const rs = rollouts(8, EOS, 4, 4);
    const out = await optimize(
      { model, opt: new AdamW(model.parameters(), { lr: 0.01 }), ref: ref.model },
      rs,
      Float64Array.from(rs, (_, i) => (i % 3) - 1),
      settings,
      0,
    );
    assert.equal(out.updates.length, 6);
    assert.equal(ref.calls(), 1, "one reference pass for 6 updates");
    assert.ok(out.updates.every((u) => u.kl > 0));
  });

  test("an update with the step's reference log-probs equals one that computes them", async () => {
    const settings = {
      algo: toyConfig("unused", { algo: { kl_coef: 0.2 } }).algo,
      temperature: 1,
      gradClip: 1,
      maxLen: 4,
      pad: EOS,
      schedule: { lr: 0.01, totalSteps: 1, warmupSteps: 0, minLrRatio: 0, kind: "constant" as const },
      seed: 0,
    };
    const ref = toyModel(1);
    const run = (batch: Rollout[]) => {
      const model = toyModel(2);
      return update({
        policy: { model, opt: new AdamW(model.parameters(), { lr: 0.01 }), ref },
        batch,
        advantages: Float64Array.from(batch, (_, i) => (i % 2 ? 1 : -1)),
        lr: 0.01,
        settings,
        random: () => 0.5,
      });
    };
    const plain = await run(rollouts(6, EOS, 4, 4, 3));
    const rs = rollouts(6, EOS, 4, 4, 3);
    await withReference(ref, rs, 1, EOS);
    assert.ok(rs.every((r) => r.refLogp));
    assert.deepEqual(await run(rs), plain);
    assert.ok(plain.kl > 0);
  });
});
