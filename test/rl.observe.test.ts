// The step's within-group AUROC of each internal reward against correctness, on a hand-made step.

import assert from "node:assert/strict";
import { test } from "node:test";
import { stepMetrics } from "../src/rl/observe.ts";
import type { Rollout } from "../src/rl/rollout.ts";

function rollout(group: number, logp: number[]): Rollout {
  const n = logp.length;
  return {
    group,
    logp: Float32Array.from(logp),
    entropy: new Float32Array(n).fill(0.5),
    selfCertainty: new Float32Array(n).fill(1),
    responseIds: Array.from({ length: n }, () => 1),
    responseText: "x",
    promptIds: [0],
    truncated: false,
    gold: "1",
  } as unknown as Rollout;
}

test("within-group AUROC of each internal reward, by hand", () => {
  const rollouts = [rollout(0, [-1, -3]), rollout(0, [-2]), rollout(1, [-1]), rollout(1, [-1])];
  const advantages = Float64Array.from([1, -1, 0.5, -0.5]);
  const m = stepMetrics({
    step: 1,
    rollouts,
    rewards: {
      train: Float64Array.from([0, 0, 0, 0]),
      values: {
        correctness: [1, 0, 0, 1],
        // The right one scores higher in both groups.
        "self-certainty": [2, 1, 4, 5],
        "token-entropy": [1, 1, 3, 3],
        "trajectory-entropy": [0, 1, 2, 3],
      },
      empty: [],
    },
    trainReward: [0, 0, 0, 0],
    advantages,
    optimized: { lr: 1, updates: [], trainTokens: 1 },
    times: { collect: 1, score: 1, optimize: 1 },
    transitionalRate: () => 0,
  });
  assert.equal(m["auroc/self-certainty"], 1);
  assert.equal(m["auroc/token-entropy"], 0.5); // two ties
  assert.equal(m["auroc/trajectory-entropy"], 0.5); // group 0 lost, group 1 won
});
