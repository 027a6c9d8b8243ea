// Advantage estimators against hand-computed values, and their edge cases.

import assert from "node:assert/strict";
import { test } from "node:test";
import {
  advantageNames,
  computeAdvantages,
  getAdvantage,
  grpo,
  klInReward,
  perToken,
  registerAdvantage,
  reinforce,
  rloo,
} from "../src/rl/advantages.ts";

function near(actual: ArrayLike<number>, expected: number[], tol = 1e-12): void {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++)
    assert.ok(Math.abs(actual[i] - expected[i]) <= tol, `[${i}] ${actual[i]} vs ${expected[i]}`);
}

test("grpo: (r − mean) / (std + 1e-6) per group, std with n − 1", () => {
  // Group 0: 1, 2, 3, 4 → mean 2.5, std √(5/3); group 1: 0, 1 → mean ½, std √½.
  const A = grpo([1, 2, 3, 4, 0, 1], [0, 0, 0, 0, 1, 1], {});
  const s0 = Math.sqrt(5 / 3) + 1e-6;
  const s1 = Math.sqrt(0.5) + 1e-6;
  near(A, [-1.5 / s0, -0.5 / s0, 0.5 / s0, 1.5 / s0, -0.5 / s1, 0.5 / s1]);
  // Dr.GRPO: no std division.
  near(
    grpo([1, 2, 3, 4, 0, 1], [0, 0, 0, 0, 1, 1], { normalizeStd: false }),
    [-1.5, -0.5, 0.5, 1.5, -0.5, 0.5],
  );
});

test("grpo: groups are found by id, wherever their members sit in the batch", () => {
  near(grpo([0, 5, 1, 5], [7, 3, 7, 3], { normalizeStd: false }), [-0.5, 0, 0.5, 0]);
});

test("all-equal groups and groups of one give exactly 0, never NaN", () => {
  // 0.1 × 3 sums to 0.30000000000000004: a naive r − mean would not be 0.
  for (const name of ["grpo", "rloo", "reinforce"]) {
    const A = computeAdvantages(name, [0.1, 0.1, 0.1], [0, 0, 0]);
    assert.deepEqual(Array.from(A), [0, 0, 0], name);
  }
  const mixed = grpo([0.1, 0.1, 0.1, 2], [0, 0, 0, 1], {});
  assert.deepEqual(Array.from(mixed), [0, 0, 0, 0]);
  assert.deepEqual(Array.from(rloo([3], [0], {})), [0]);
  assert.deepEqual(Array.from(grpo([], [], {})), []);
});

test("rloo: r_i − mean of the others", () => {
  near(rloo([1, 2, 3, 10, 20], [0, 0, 0, 1, 1], {}), [1 - 2.5, 2 - 2, 3 - 1.5, -10, 10]);
});

test("reinforce: batch-mean baseline, optionally whitened", () => {
  near(reinforce([1, 2, 6], [0, 1, 2], {}), [-2, -1, 3]);
  const std = Math.sqrt((4 + 1 + 9) / 2) + 1e-6;
  near(reinforce([1, 2, 6], [0, 1, 2], { whiten: true }), [-2 / std, -1 / std, 3 / std]);
});

test("registry: by name, unknown names list the valid ones, custom estimators", () => {
  assert.equal(getAdvantage("grpo"), grpo);
  assert.throws(() => getAdvantage("ppo"), /unknown advantage estimator "ppo"; valid: grpo, rloo, reinforce/);
  assert.deepEqual(advantageNames().slice(0, 3), ["grpo", "rloo", "reinforce"]);
  registerAdvantage("raw", (r) => Float64Array.from(r as ArrayLike<number>));
  near(computeAdvantages("raw", [4, 5], [0, 0]), [4, 5]);
});

test("bad rewards are errors, not NaN advantages", () => {
  assert.throws(() => grpo([1, Number.NaN], [0, 0], {}), /reward 1 is NaN/);
  assert.throws(() => grpo([1, 2], [0], {}), /2 rewards but 1 group ids/);
});

test("perToken broadcasts sequence values to tokens", () => {
  near(perToken([0.5, -2], Int32Array.from([0, 0, 1, 1, 1])), [0.5, 0.5, -2, -2, -2]);
  assert.throws(() => perToken([1], Int32Array.from([0, 1])), /token 1 points at sequence 1 of 1/);
});

test("klInReward subtracts β Σ_t (log π_old − log π_ref)", () => {
  const r = klInReward([1, 0], [[-1, -2], [-0.5]], [[-1.5, -1], [-0.5]], 0.1);
  near(r, [1 - 0.1 * (0.5 - 1), 0]);
  assert.throws(() => klInReward([1], [[0]], [[0, 1]], 0.1), /rollout 0 has 1 vs 2 log-probs/);
});
