// Internal rewards over the response's last tokens (options last_k / last_frac, RENT's "last
// chunk"), against hand-computed means.

import assert from "node:assert/strict";
import { test } from "node:test";
import { selfCertainty, tokenEntropy, trajectoryEntropy, windowStart } from "../src/rewards/internal.ts";
import type { SampledResponse } from "../src/rewards/types.ts";

function rollout(logp: number[], entropy: number[], sc: number[]): SampledResponse {
  return {
    responseIds: logp.map((_, i) => 10 + i),
    responseText: "",
    logp: Float32Array.from(logp),
    entropy: Float32Array.from(entropy),
    selfCertainty: Float32Array.from(sc),
    group: 0,
  };
}

const r = rollout([-0.5, -1.5, -1, -2], [2, 1, 0.5, 0.25], [0.25, 0.5, 1, 3]);

test("windowStart: all tokens, the last k, the last ⌈f·T⌉", () => {
  assert.equal(windowStart(10, {}), 0);
  assert.equal(windowStart(10, { last_k: 3 }), 7);
  assert.equal(windowStart(2, { last_k: 3 }), 0);
  assert.equal(windowStart(10, { last_frac: 1 / 3 }), 6); // ⌈3.33⌉ = 4 tokens
  assert.equal(windowStart(3, { last_frac: 1 / 3 }), 2);
  assert.equal(windowStart(0, { last_frac: 0.5 }), 0);
  assert.throws(() => windowStart(5, { last_k: 0 }), /last_k must be a positive integer/);
  assert.throws(() => windowStart(5, { last_k: 1.5 }), /last_k must be a positive integer/);
  assert.throws(() => windowStart(5, { last_frac: 0 }), /last_frac must be in \(0, 1\]/);
  assert.throws(() => windowStart(5, { last_frac: "1/3" }), /last_frac must be in \(0, 1\]/);
});

test("the three internal rewards average over the window only", () => {
  // last 2 tokens: logp (−1, −2), entropy (0.5, 0.25), self-certainty (1, 3)
  for (const o of [{ last_k: 2 }, { last_frac: 0.5 }, { last_frac: 0.3 }]) {
    assert.equal(trajectoryEntropy(r, {}, o), -1.5);
    assert.equal(trajectoryEntropy(r, {}, { ...o, reduce: "sum" }), -3);
    assert.equal(tokenEntropy(r, {}, o), -0.375);
    assert.equal(selfCertainty(r, {}, o), 2);
  }
  // last token only; and a window longer than the response is the whole response
  assert.equal(selfCertainty(r, {}, { last_frac: 0.2 }), 3);
  assert.equal(selfCertainty(r, {}, { last_k: 99 }), selfCertainty(r));
  assert.equal(selfCertainty(r), (0.25 + 0.5 + 1 + 3) / 4);
  assert.equal(tokenEntropy(rollout([], [], []), {}, { last_k: 2 }), 0);
});

test("window options: unknown keys and both at once are errors", () => {
  assert.throws(
    () => selfCertainty(r, {}, { last: 2 }),
    /self-certainty: unknown option "last" \(valid: last_k, last_frac\)/,
  );
  assert.throws(() => tokenEntropy(r, {}, { reduce: "sum" }), /token-entropy: unknown option "reduce"/);
  assert.throws(
    () => trajectoryEntropy(r, {}, { last_k: 1, last_frac: 0.5 }),
    /last_k or last_frac, not both/,
  );
});
