// Group rewards (rewards/group-rewards.ts) against hand-computed cases: TTRL majority vote with
// ties, missing answers and extra voters; EMPO's cluster share and semantic entropy; the seeded
// random control.

import assert from "node:assert/strict";
import { test } from "node:test";
import { gradeAnswer } from "../src/grading/index.ts";
import {
  clusterAnswers,
  majorityVote,
  randomReward,
  semanticClusterShare,
  uniformAt,
} from "../src/rewards/group-rewards.ts";

const same = (a: string, b: string) => a === b;
const grader = (a: string, b: string) => gradeAnswer(a, b).equal;

test("clusterAnswers: first-seen order, missing answers in no cluster, grader equivalence", () => {
  const c = clusterAnswers(["1/2", null, "0.5", "3", "\\frac{1}{2}", "3"], grader);
  assert.deepEqual([...c.cluster], [0, -1, 0, 1, 0, 1]);
  assert.deepEqual(c.sizes, [3, 2]);
  // Without the grader, the spellings of 1/2 are three different answers.
  assert.deepEqual(clusterAnswers(["1/2", null, "0.5", "3", "\\frac{1}{2}", "3"], same).sizes, [1, 1, 2, 1]);
});

test("majorityVote: the most common answer is the pseudo-label", () => {
  const v = majorityVote(["4", "5", "4", null, "4", "6"], same);
  assert.deepEqual([...v.rewards], [1, 0, 1, 0, 1, 0]);
  assert.equal(v.majority, "4");
  assert.equal(v.share, 3 / 6);
  // Equivalent spellings vote together: 0.5 and 1/2 (2 votes) beat 3 (1 vote), whatever the order.
  const g = majorityVote(["3", "0.5", "1/2"], grader);
  assert.deepEqual([...g.rewards], [0, 1, 1]);
  assert.equal(g.majority, "0.5");
});

test("majorityVote: ties go to the answer seen first, or to nobody", () => {
  const answers = ["7", "8", "8", "7", null];
  assert.deepEqual([...majorityVote(answers, same).rewards], [1, 0, 0, 1, 0]);
  const none = majorityVote(answers, same, { tie: "none" });
  assert.deepEqual([...none.rewards], [0, 0, 0, 0, 0]);
  assert.equal(none.majority, null);
  assert.equal(none.share, 0);
  // A single leader is not a tie under either rule.
  assert.deepEqual([...majorityVote(["7", "8", "8"], same, { tie: "none" }).rewards], [0, 1, 1]);
  assert.throws(() => majorityVote(answers, same, { tie: "last" as "none" }), /tie must be one of/);
});

test("majorityVote: no answers at all gives 0 everywhere", () => {
  const v = majorityVote([null, null, null], same);
  assert.deepEqual([...v.rewards], [0, 0, 0]);
  assert.equal(v.majority, null);
  assert.deepEqual([...majorityVote([], same).rewards], []);
});

test("majorityVote: extra voters move the label but get no reward", () => {
  // Among the trained samples 5 leads 2:1, but with the extra voters 9 has 3 votes to 5's 2.
  const v = majorityVote(["5", "9", "5"], same, { extraVoters: ["9", "9", null] });
  assert.equal(v.rewards.length, 3);
  assert.deepEqual([...v.rewards], [0, 1, 0]);
  assert.equal(v.majority, "9");
  assert.equal(v.share, 3 / 6);
});

test("semanticClusterShare: r_i = |cluster(i)| / G and the semantic entropy", () => {
  const { rewards, entropy } = semanticClusterShare(["2", "2", "3", null, "2", "0.5", "1/2", "x"], grader);
  assert.deepEqual([...rewards], [3 / 8, 3 / 8, 1 / 8, 0, 3 / 8, 2 / 8, 2 / 8, 1 / 8]);
  // clusters {2: 3, 3: 1, 1/2: 2, x: 1} of G = 8
  const p = [3 / 8, 1 / 8, 2 / 8, 1 / 8];
  const H = -p.reduce((s, q) => s + q * Math.log(q), 0);
  assert.ok(Math.abs(entropy - H) < 1e-15, `${entropy} vs ${H}`);
  // Unanimity: reward 1 for all and zero entropy.
  const u = semanticClusterShare(["4", "4", "4"], same);
  assert.deepEqual([...u.rewards], [1, 1, 1]);
  assert.equal(u.entropy, 0);
});

test("randomReward: a pure function of (seed, step, index) with the asked-for rate", () => {
  assert.equal(randomReward(3, 10, 5, 0.5), randomReward(3, 10, 5, 0.5));
  assert.equal(randomReward(3, 10, 5, 0), 0);
  assert.equal(randomReward(3, 10, 5, 1), 1);
  assert.throws(() => randomReward(3, 10, 5, 1.5), /p must be in \[0, 1\]/);
  for (const p of [0.2, 0.5]) {
    let ones = 0;
    const n = 20000;
    for (let i = 0; i < n; i++) ones += randomReward(7, Math.floor(i / 64), i % 64, p);
    // Binomial(n, p): 5 standard deviations
    const sd = Math.sqrt(n * p * (1 - p));
    assert.ok(Math.abs(ones - n * p) < 5 * sd, `p = ${p}: ${ones} of ${n}`);
  }
  // Neighbouring seeds, steps and indices give unrelated draws (no shared stream).
  const u = [uniformAt(0, 0, 0), uniformAt(1, 0, 0), uniformAt(0, 1, 0), uniformAt(0, 0, 1)];
  assert.equal(new Set(u).size, 4);
  let agree = 0;
  for (let i = 0; i < 4000; i++) agree += randomReward(1, 0, i, 0.5) === randomReward(2, 0, i, 0.5) ? 1 : 0;
  assert.ok(Math.abs(agree - 2000) < 5 * Math.sqrt(1000), `seeds 1 and 2 agree on ${agree} of 4000`);
});
