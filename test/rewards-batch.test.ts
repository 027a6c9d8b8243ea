// Batch rewards (rewards/batch.ts) on rollouts: per-group application through the grader's
// extraction and equivalence, options, and null without a grader or seed.

import assert from "node:assert/strict";
import { test } from "node:test";
import { extractAnswer, gradeAnswer } from "../src/grading/index.ts";
import { majorityVoteReward, randomControlReward, semanticEntropyReward } from "../src/rewards/batch.ts";
import { computeRewards } from "../src/rewards/compute.ts";
import { randomReward } from "../src/rewards/group-rewards.ts";
import type { RewardContext, SampledResponse } from "../src/rewards/types.ts";

function rollout(text: string, group: number): SampledResponse {
  return {
    responseIds: [5, 6],
    responseText: text,
    logp: new Float32Array(2),
    entropy: new Float32Array(2),
    selfCertainty: new Float32Array(2),
    group,
  };
}

const ctx: RewardContext = {
  answerOf: (t) => extractAnswer(t, "boxed"),
  equivalent: (a, b) => gradeAnswer(a, b).equal,
  seed: 4,
  step: 9,
};
// group 0: answers 1/2, 0.5, 3, none; group 1 (interleaved): 7, 8, 8
const batch = [
  rollout("so \\boxed{1/2}", 0),
  rollout("\\boxed{7}", 1),
  rollout("it is \\boxed{0.5}", 0),
  rollout("\\boxed{8}", 1),
  rollout("\\boxed{3}", 0),
  rollout("\\boxed{8}", 1),
  rollout("I give up", 0),
];

test("majority-vote per group, equivalent spellings voting together", () => {
  assert.deepEqual(majorityVoteReward(batch, ctx, {}), [1, 0, 1, 1, 0, 1, 0]);
  // a 1:1 tie in group 1 without its last response: first seen (7) wins, or nobody
  const tied = batch.slice(0, 5);
  assert.deepEqual(majorityVoteReward(tied, ctx, {}), [1, 1, 1, 0, 0]);
  assert.deepEqual(majorityVoteReward(tied, ctx, { tie: "none" }), [1, 0, 1, 0, 0]);
  assert.throws(() => majorityVoteReward(batch, ctx, { tie: "random" }), /tie must be one of first, none/);
  assert.throws(
    () => majorityVoteReward(batch, ctx, { p: 1 }),
    /majority-vote: unknown option "p" \(valid: tie\)/,
  );
});

test("semantic-entropy: the share of the group in the response's cluster", () => {
  assert.deepEqual(semanticEntropyReward(batch, ctx, {}), [2 / 4, 1 / 3, 2 / 4, 2 / 3, 1 / 4, 2 / 3, 0]);
  assert.throws(
    () => semanticEntropyReward(batch, ctx, { tie: "first" }),
    /unknown option "tie" \(valid: none\)/,
  );
});

test("without a grader the answer rewards are unavailable (null), like correctness", () => {
  assert.deepEqual(majorityVoteReward(batch, {}, {}), new Array(7).fill(null));
  assert.deepEqual(semanticEntropyReward(batch, { answerOf: ctx.answerOf }, {}), new Array(7).fill(null));
});

test("random: Bernoulli(p) from (seed, step, index), null without seed and step", () => {
  const r = randomControlReward(batch, ctx, { p: 0.3 });
  assert.deepEqual(
    r,
    batch.map((_, i) => randomReward(4, 9, i, 0.3)),
  );
  assert.deepEqual(randomControlReward(batch, ctx, { p: 1 }), new Array(7).fill(1));
  assert.deepEqual(randomControlReward(batch, { seed: 4 }, {}), new Array(7).fill(null));
  assert.throws(() => randomControlReward(batch, ctx, { p: "half" }), /p must be a number/);
  assert.throws(() => randomControlReward(batch, ctx, { p: 2 }), /p must be in \[0, 1\]/);
});

test("computeRewards: batch rewards train, mix and log like the others", () => {
  const res = computeRewards(batch, { terms: [{ name: "majority-vote", weight: 1 }] }, ctx);
  assert.deepEqual([...res.train], [1, 0, 1, 1, 0, 1, 0]);
  assert.deepEqual(res.values["semantic-entropy"], semanticEntropyReward(batch, ctx, {}));
  assert.deepEqual(res.values.random, randomControlReward(batch, ctx, {}));
  const mixed = computeRewards(
    batch,
    {
      terms: [
        { name: "random", weight: 2, options: { p: 1 } },
        { name: "semantic-entropy", weight: 1 },
      ],
    },
    ctx,
  );
  assert.deepEqual([...mixed.train], [2.5, 2 + 1 / 3, 2.5, 2 + 2 / 3, 2.25, 2 + 2 / 3, 2]);
  // an empty response gets 0 from every reward, batch ones included
  const withEmpty = [
    ...batch,
    {
      ...batch[0],
      responseIds: [],
      logp: new Float32Array(0),
      entropy: new Float32Array(0),
      selfCertainty: new Float32Array(0),
    },
  ];
  const e = computeRewards(withEmpty, { terms: [{ name: "random", weight: 1, options: { p: 1 } }] }, ctx);
  assert.equal(e.train[7], 0);
  assert.throws(
    () => computeRewards(batch, { terms: [{ name: "majority-vote", weight: 1 }] }, {}),
    /"majority-vote" is not available for rollout 0 \(it needs a grader \(answer extraction and equivalence\)\)/,
  );
  assert.throws(
    () => computeRewards(batch, { terms: [{ name: "random", weight: 1 }] }, { answerOf: ctx.answerOf }),
    /it needs the run's seed and step/,
  );
});
