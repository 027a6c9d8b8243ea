// DAPO's batch shaping against hand-computed cases: zero-variance groups and their share,
// dynamic sampling's selection, the linear overlong penalty and truncation masking.

import assert from "node:assert/strict";
import { test } from "node:test";
import { fracRewardZeroStd, informativeResponses, zeroStdGroups } from "../src/rl/dynamic-sampling.ts";
import { overlongPenalty, truncationWeights } from "../src/rl/overlong.ts";

// groups 0 (varied), 1 (all 1), 2 (varied), 3 (one response), 4 (all 0)
const rewards = [1, 0, 1, 1, 1, 0.5, 0.25, 2, 0, 0];
const groups = [0, 0, 1, 1, 2, 2, 2, 3, 4, 4];

test("zero-variance groups and their share", () => {
  assert.deepEqual([...zeroStdGroups(rewards, groups)].sort(), [1, 3, 4]);
  assert.equal(fracRewardZeroStd(rewards, groups), 3 / 5);
  assert.equal(fracRewardZeroStd([], []), 0);
  assert.equal(fracRewardZeroStd([1, 2], [0, 0]), 0);
  assert.throws(() => zeroStdGroups([1], [0, 0]), /1 rewards but 2 group ids/);
});

test("dynamic sampling keeps whole informative groups, at most maxGroups of them", () => {
  assert.deepEqual(informativeResponses(rewards, groups), [0, 1, 4, 5, 6]);
  assert.deepEqual(informativeResponses(rewards, groups, 1), [0, 1]);
  assert.deepEqual(informativeResponses(rewards, groups, 0), []);
  assert.deepEqual(informativeResponses([3, 3], [7, 7]), []);
});

test("overlong penalty: 0 before the buffer, linear inside it, −factor at and past the limit", () => {
  // L_max = 20, buffer 4: the penalty starts after 16 tokens
  assert.equal(overlongPenalty(10, 20, 4), 0);
  assert.equal(overlongPenalty(16, 20, 4), 0);
  assert.equal(overlongPenalty(17, 20, 4), -0.25);
  assert.equal(overlongPenalty(19, 20, 4, 2), -1.5);
  assert.equal(overlongPenalty(20, 20, 4), -1);
  assert.equal(overlongPenalty(25, 20, 4), -1);
  assert.throws(() => overlongPenalty(5, 20, 0), /buffer must be in \(0, max length 20\]/);
  assert.throws(() => overlongPenalty(5, 20, 21), /buffer must be in/);
});

test("truncated responses get loss weight 0", () => {
  assert.deepEqual([...truncationWeights([false, true, false])], [1, 0, 1]);
});
