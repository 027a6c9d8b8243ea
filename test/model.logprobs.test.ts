// sequenceLogprobs: the one forward pass behind the policy update, the reference policy and the
// next-token loss equals the raw ops it replaced, bit for bit, at any temperature.

import assert from "node:assert/strict";
import { test } from "node:test";
import * as op from "../src/engine/ops.ts";
import { tidy } from "../src/engine/tensor.ts";
import { frozenLogprobs, sequenceLogprobs } from "../src/model/logprobs.ts";
import { packRollouts, type Rollout } from "../src/rl/rollout.ts";
import { toyModel } from "./helpers/toy-rl.ts";

function rollout(promptIds: number[], responseIds: number[]): Rollout {
  const T = responseIds.length;
  const z = () => new Float32Array(T);
  return {
    promptIds,
    responseIds,
    responseText: "",
    logp: z(),
    entropy: z(),
    selfCertainty: z(),
    truncated: false,
    group: 0,
  };
}

const batch = packRollouts([rollout([0, 1], [2, 3, 7]), rollout([4], [5])], 7);

for (const temperature of [1, 0.7]) {
  test(`log p and entropy equal scale(forward, 1/T) -> tokenStats at T = ${temperature}`, async () => {
    const model = toyModel(3);
    const [want, got] = tidy(() => {
      const z = op.scale(model.forward(batch.ids, batch.B, batch.T), 1 / temperature);
      const stats = op.tokenStats(z, batch.targets);
      const s = sequenceLogprobs(model, batch, temperature);
      return [
        [op.column(stats, 0).toArray(), op.column(stats, 1).toArray()],
        [s.logp.toArray(), s.entropy.toArray()],
      ];
    });
    assert.deepEqual(got, want);
    assert.deepEqual(
      Array.from(await frozenLogprobs(model, batch, temperature)),
      Array.from(Float32Array.from(want[0])),
    );
  });
}

test("a target of -1 gives 0; real targets give log-probabilities < 0", async () => {
  const lp = await frozenLogprobs(toyModel(1), batch);
  batch.targets.forEach((t, i) => {
    if (t < 0) assert.equal(lp[i], 0);
    else assert.ok(lp[i] < 0 && Number.isFinite(lp[i]));
  });
});
