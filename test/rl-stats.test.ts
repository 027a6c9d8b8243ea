// Metrics (rl/stats.ts and eval/metrics.ts): summaries, correlations, pass@k, maj@k, mean@k against hand-computed values.

import assert from "node:assert/strict";
import { test } from "node:test";
import { majAtK, majorityVote, meanAtK, passAtK } from "../src/eval/metrics.ts";
import { correlationMatrix, pearson, pointBiserial, rewardMetrics, summarize } from "../src/rl/stats.ts";

const near = (a: number | null, b: number, tol = 1e-12) =>
  assert.ok(a !== null && Math.abs(a - b) <= tol, `${a} vs ${b}`);

test("summarize: population std, nulls and NaN skipped, empty gives nulls", () => {
  const s = summarize([2, 4, 4, 4, 5, 5, 7, 9, null, Number.NaN]);
  assert.equal(s.count, 8);
  near(s.mean, 5);
  near(s.std, 2);
  assert.equal(s.min, 2);
  assert.equal(s.max, 9);
  assert.deepEqual(summarize([]), { count: 0, mean: null, std: null, min: null, max: null });
});

test("pearson by hand; undefined cases are null", () => {
  // deviations (−1, 0, 1) and (−1, 1, 0): Σ dx·dy = 1, Σ dx² = Σ dy² = 2 → r = ½.
  near(pearson([1, 2, 3], [1, 3, 2]), 0.5);
  near(pearson([1, 2, 3], [-2, -4, -6]), -1);
  assert.equal(pearson([1, 1, 1], [1, 2, 3]), null);
  assert.equal(pearson([1], [2]), null);
  near(pearson([1, 2, null, 3], [1, 3, 5, 2]), 0.5); // the pair with a null is skipped
  assert.throws(() => pearson([1, 2], [1]), /2 vs 1 values/);
});

test("point-biserial correlation of a reward with correctness", () => {
  // r_pb = (M1 − M0)/s_n · √(p q): rewards 1, 2 wrong, 3, 6 right → M1 = 4.5, M0 = 1.5,
  // s_n = √(((1−3)² + (2−3)² + 0 + 3²)/4) = √3.5, p = q = ½.
  near(pointBiserial([1, 2, 3, 6], [false, false, true, true]), (3 / Math.sqrt(3.5)) * 0.5);
  near(pointBiserial([1, 2, 3, 6], [0, 0, 1, 1]), (3 / Math.sqrt(3.5)) * 0.5);
  assert.equal(pointBiserial([1, 2, 3], [true, true, true]), null); // all correct: undefined
  assert.throws(() => pointBiserial([1, 2], [0, 2]), /correctness 1 is 2/);
});

test("correlation matrix among internal rewards", () => {
  const m = correlationMatrix({ a: [1, 2, 3], b: [1, 3, 2], c: [5, 5, 5] });
  near(m.a.a, 1);
  near(m.a.b, 0.5);
  near(m.b.a, 0.5);
  assert.equal(m.a.c, null);
});

test("pass@k: unbiased estimator by hand and its limits", () => {
  near(passAtK(4, 1, 2), 1 - 3 / 6); // 1 − C(3,2)/C(4,2)
  near(passAtK(5, 2, 1), 2 / 5); // pass@1 = c/n
  assert.equal(passAtK(5, 4, 2), 1); // n − c < k: some sample among any k is right
  assert.equal(passAtK(5, 0, 3), 0);
  const big = passAtK(100000, 3, 1000); // no overflow for large n
  near(big, 1 - (1 - 1000 / 99998) * (1 - 1000 / 99999) * (1 - 1000 / 100000));
  assert.throws(() => passAtK(4, 5, 1), /c must be an integer in \[0, 4\]/);
  assert.throws(() => passAtK(4, 1, 5), /k must be an integer in \[1, 4\]/);
});

test("majority vote: most frequent answer, ties to the first seen, empty answers ignored", () => {
  assert.equal(majorityVote(["3", "4", "4", "3", null, "5"]), "3");
  assert.equal(majorityVote(["", null, "7", "8", "8"]), "8");
  assert.equal(majorityVote([null, ""]), null);
});

test("maj@k and mean@k over the first k samples", () => {
  const answers = ["1", "2", "2", "1", "1"];
  const correct = [true, false, false, true, true];
  assert.equal(majAtK(answers, correct, 3), 0); // "2" wins among the first 3
  assert.equal(majAtK(answers, correct, 5), 1); // "1" wins among all 5
  assert.equal(majAtK([null, null], [false, false], 2), 0);
  near(meanAtK(correct, 4), 0.5);
  assert.throws(() => meanAtK(correct, 6), /k must be an integer in \[1, 5\]/);
});

test("rewardMetrics: means, correlation with correctness, correlations among internal rewards", () => {
  const m = rewardMetrics({
    "self-certainty": [1, 2, 3, 6],
    "token-entropy": [-2, -4, -6, -12],
    "trajectory-entropy": [0, 0, 0, 0],
    correctness: [0, 0, 1, 1],
    format: [1, null, 0, 1],
  });
  near(m.mean["self-certainty"], 3);
  near(m.mean.format, 2 / 3);
  near(m.corrWithCorrectness["self-certainty"], (3 / Math.sqrt(3.5)) * 0.5);
  near(m.corrWithCorrectness["token-entropy"], -(3 / Math.sqrt(3.5)) * 0.5);
  assert.equal(m.corrWithCorrectness["trajectory-entropy"], null);
  near(m.corrInternal["self-certainty"]["token-entropy"], -1);
  assert.equal(Object.keys(m.corrInternal).length, 3);
  // Without correctness (no reference answers) the correlations are null, not an error.
  const n = rewardMetrics({ "self-certainty": [1, 2], correctness: [null, null] });
  assert.equal(n.corrWithCorrectness["self-certainty"], null);
});
