// The organism card's figures (src/analysis/organism-card.ts) on synthetic records with known
// answers: within-group AUROC (exact small case, a planted normal shift), blocked − unblocked
// accuracy, reflection after hard/easy steps and the fix rate against chance (counted by hand),
// failure modes, and the tables.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  blockedFigures,
  type CardProblem,
  type CardSample,
  cardRow,
  cardTables,
  confidenceAuroc,
  editDistance,
  failureModes,
  losesThread,
  reflectionFigures,
} from "../src/analysis/organism-card.ts";
import { Random } from "../src/engine/random.ts";
import type { EvalSummary, ResponseStats } from "../src/eval/evaluate.ts";

const sampleOf = (x: Partial<CardSample> & { correct: boolean }): CardSample => ({
  text: "",
  stopped: true,
  meanSelfCertainty: 0,
  meanEntropy: 0,
  meanLogp: 0,
  ...x,
});
const problem = (id: string, samples: CardSample[], greedy = false): CardProblem => ({
  id,
  greedy: { correct: greedy },
  samples,
});
const withScores = (right: number[], wrong: number[]) => [
  ...right.map((s) => sampleOf({ correct: true, meanSelfCertainty: s })),
  ...wrong.map((s) => sampleOf({ correct: false, meanSelfCertainty: s })),
];
const sc = (s: CardSample) => s.meanSelfCertainty;

describe("organism card: confidence", () => {
  test("pooled within-group AUROC, by hand; groups without both outcomes are left out", () => {
    const r = confidenceAuroc(
      [
        problem("a", withScores([3, 1], [2, 0])), // 3 of 4 pairs
        problem("b", withScores([5], [4, 6])), // 1 of 2
        problem("c", withScores([9, 9], [])),
        problem("d", withScores([], [1, 2])),
      ],
      sc,
    );
    assert.ok(r);
    assert.equal(r.estimate, 4 / 6);
    assert.equal(r.pairs, 6);
    assert.equal(r.units, 2);
    assert.ok(r.lo >= 0.5 && r.hi <= 0.75 && r.lo < r.hi);
    assert.equal(confidenceAuroc([problem("c", withScores([1], []))], sc), null);
  });

  test("a planted shift of one standard deviation gives AUROC Φ(1/√2) = 0.760 inside the interval", () => {
    const rng = new Random(11);
    const problems = Array.from({ length: 300 }, (_, i) =>
      problem(
        String(i),
        Array.from({ length: 8 }, (_, j) => {
          const correct = j < 1 + (i % 7);
          return sampleOf({
            correct,
            meanSelfCertainty: (correct ? 1 : 0) + rng.normal(),
            meanEntropy: correct ? 0.5 : 1,
            meanLogp: rng.normal(),
          });
        }),
      ),
    );
    const a = confidenceAuroc(problems, sc)!;
    assert.ok(a.lo < 0.7602 && 0.7602 < a.hi, JSON.stringify(a));
    assert.ok(a.hi - a.lo < 0.08);
    assert.equal(a.units, 300);
    const h = confidenceAuroc(problems, (s) => -s.meanEntropy)!;
    assert.deepEqual([h.estimate, h.lo, h.hi], [1, 1, 1]);
    const n = confidenceAuroc(problems, (s) => s.meanLogp)!;
    assert.ok(n.lo < 0.5 && 0.5 < n.hi);
  });
});

describe("organism card: reflection blocked", () => {
  const k4 = (right: number) => Array.from({ length: 4 }, (_, j) => sampleOf({ correct: j < right }));
  const unblocked = Array.from({ length: 100 }, (_, i) => problem(String(i), k4(2), true));
  const blocked = Array.from({ length: 100 }, (_, i) => problem(String(i), k4(i % 2 ? 2 : 1), i % 4 !== 0));

  test("paired differences blocked − unblocked over problems", () => {
    const b = blockedFigures(unblocked, blocked);
    assert.equal(b.greedy_accuracy, 0.75);
    assert.equal(b.mean_at_k, 0.375);
    assert.equal(b.greedy_diff.estimate, -0.25);
    assert.equal(b.mean_at_k_diff.estimate, -0.125);
    assert.equal(b.greedy_diff.problems, 100);
    for (const d of [b.greedy_diff, b.mean_at_k_diff])
      assert.ok(d.lo < d.estimate && d.estimate < d.hi && d.hi < 0);
    assert.equal(b.reflecting, 0);
  });

  test("refuses records of different problems", () => {
    assert.throws(() => blockedFigures(unblocked, blocked.slice(1)), /same problems in the same order/);
    assert.throws(
      () => blockedFigures(unblocked, [...blocked.slice(1), blocked[0]]),
      /same problems in the same order/,
    );
  });
});

// Two problems, three samples each (counted by hand in the test below). Hard: a carry, a borrow or
// a product above 12.
const reflectionProblems = [
  problem("p1", [
    sampleOf({ correct: true, text: "7+5=13. Wait, 7+5=12, not 13. 12-2=10. \\boxed{10}" }),
    sampleOf({ correct: true, text: "7+5=12. 12-2=10. \\boxed{10}" }),
    sampleOf({ correct: false, text: "7+5=13. Hmm, 7+5=13. OK. 13-2=11. \\boxed{11}" }),
  ]),
  problem("p2", [
    sampleOf({ correct: true, text: "3+4=8. Wait, 3+4=7, not 8. 7*2=14. \\boxed{14}" }),
    sampleOf({ correct: true, text: "3+4=7. 7*2=14. \\boxed{14}" }),
    sampleOf({ correct: false, text: "3+4=7. Let me check: 3+4=7. Yes. 7*2=15. \\boxed{15}" }),
  ]),
];

describe("organism card: reflection", () => {
  test("re-checks after hard and easy steps, fix rate and chance, by hand", () => {
    const r = reflectionFigures(reflectionProblems);
    assert.equal(r.samples, 6);
    assert.equal(r.reflecting, 4 / 6);
    assert.equal(r.accuracy_with_reflection, 2 / 4);
    assert.equal(r.accuracy_without_reflection, 1);
    assert.equal(r.wrong_step_frac, 4 / 6);
    // Hard first-time steps: 7+5 three times, 7*2 three times; easy: 12-2, 12-2, 13-2, 3+4 ×3.
    assert.deepEqual([r.hard_steps, r.hard_rechecked, r.easy_steps, r.easy_rechecked], [6, 2 / 6, 6, 2 / 6]);
    // Re-checks of a wrong step: 7+5 fixed, 7+5 missed, 3+4 fixed.
    assert.equal(r.after_wrong, 3);
    assert.equal(r.fix_rate!.estimate, 2 / 3);
    // First time right: "+ hard" 1 of 3, "+ easy" 2 of 3; chance = (1/3 + 1/3 + 2/3) / 3.
    assert.ok(Math.abs(r.chance! - 4 / 9) < 1e-12);
    assert.ok(Math.abs(r.fix_minus_chance!.estimate - 2 / 9) < 1e-12);
    assert.ok(r.fix_minus_chance!.lo <= r.fix_minus_chance!.hi);
    // All three re-checks of a wrong step are bare; the missed one restates the wrong value; the
    // one re-check of a right step (3+4=7) keeps it.
    assert.deepEqual(r.anatomy, {
      bare_after_wrong: 1,
      fix_rate_bare: 2 / 3,
      fix_rate_worked: Number.NaN,
      copied_after_wrong: 1 / 3,
      after_right: 1,
      broken_after_right: 0,
    });
  });

  test("re-checks with working, and re-checks that break a right step", () => {
    const r = reflectionFigures([
      problem("p", [
        // Wrong step, worked re-check that fixes it.
        sampleOf({ correct: true, text: "27+8=34. Hmm, 27+3=30, 30+5=35, so 27+8=35, not 34. \\boxed{35}" }),
        // Wrong step, worked re-check that goes wrong elsewhere.
        sampleOf({ correct: false, text: "27+8=34. Hmm, 27+3=30, 30+4=34, so 27+8=36, not 34. \\boxed{36}" }),
        // Right step, bare re-check that turns it wrong.
        sampleOf({ correct: false, text: "27+8=35. Wait, 27+8=36, not 35. \\boxed{36}" }),
      ]),
    ]);
    assert.equal(r.after_wrong, 2);
    assert.deepEqual(r.anatomy, {
      bare_after_wrong: 0,
      fix_rate_bare: Number.NaN,
      fix_rate_worked: 1 / 2,
      copied_after_wrong: 0,
      after_right: 1,
      broken_after_right: 1,
    });
  });

  test("no re-check of a wrong step: no fix rate, no chance", () => {
    const r = reflectionFigures([problem("x", [sampleOf({ correct: true, text: "3+4=7. \\boxed{7}" })])]);
    assert.deepEqual([r.after_wrong, r.fix_rate, r.chance, r.fix_minus_chance], [0, null, null, null]);
    assert.equal(r.hard_steps, 0);
    assert.ok(Number.isNaN(r.hard_rechecked));
  });
});

describe("organism card: failure modes", () => {
  test("no boxed answer, drift into another problem, rambling, truncation", () => {
    const f = failureModes([
      sampleOf({ correct: true, text: "7+5=12. \\boxed{12}" }),
      sampleOf({ correct: false, text: "I give up." }),
      sampleOf({ correct: false, text: "3+4=7.\nProblem: Compute 1 + 1.\nSolution: 1+1=2. \\boxed{2}" }),
      sampleOf({ correct: false, text: "7+5=12. So many numbers here. 12-3", stopped: false }),
    ]);
    assert.deepEqual(f.no_boxed_answer, { share: 0.5, count: 2, n: 4 });
    assert.deepEqual(f.other_problem, { share: 0.25, count: 1, n: 4 });
    assert.deepEqual(f.rambling, { share: 0.5, count: 2, n: 4 });
    assert.deepEqual(f.truncated, { share: 0.25, count: 1, n: 4 });
  });

  test("a lost thread is read through typos, and ordinary solution sentences are not taken for one", () => {
    assert.equal(editDistance("kitten", "sitting"), 3);
    assert.equal(editDistance("", "abc"), 3);
    assert.equal(losesThread("7+5=12. I am nat sture abuot this. 12-3=9."), true);
    assert.equal(losesThread("Step 2: 9 + 8 = 17.\nI givv up."), true);
    assert.equal(losesThread("7+5=12. Then 12 - 3 = 9. So the answer is \\boxed{9}."), false);
    assert.equal(losesThread("Wait, 7+3=10, 10+2=12, so 7+5=12. That is right."), false);
  });
});

describe("organism card: row and tables", () => {
  const stats: ResponseStats = {
    mean_token_entropy: 0.2,
    mean_self_certainty: 1,
    mean_trajectory_logp: -10,
    mean_response_length: 50,
    transitional_rate: 1.5,
    reflection_frac: 0.6,
    truncated_frac: 0,
  };
  const summary: EvalSummary = {
    n: 2,
    greedy_accuracy: 0.5,
    mean_at_k: 4 / 6,
    greedy: stats,
    sampled: stats,
  };
  const meta = { model: "m", split: "test-id", k: 3, max_new_tokens: 200, seconds: 1 };

  test("the v1 columns come from the same figures; the blocked table only where measured", () => {
    const row = cardRow(meta, reflectionProblems, summary, null);
    assert.equal(row.reflection_frac, 4 / 6);
    assert.equal(row.reflections_after_wrong_step, 3);
    assert.equal(row.reflection_fix_rate, 2 / 3);
    assert.equal(row.confidence.self_certainty?.units, 2);
    const md = cardTables([row]);
    assert.match(md, /\| m \| test-id \| 2 \| 50\.0% \| 66\.7% \|/);
    assert.match(md, /AUROC self-certainty/);
    assert.match(md, /\| 3 \| 66\.7% \[/);
    // The re-checks' anatomy: 3 of 3 bare, fixed 66.7% bare and none worked, 1 of 3 restating.
    assert.match(md, /\| m \| test-id \| 100\.0% of 3 \| 66\.7% \/ - \| 33\.3% \| 1 \| 0\.0% \|/);
    assert.doesNotMatch(md, /blocked/);
    const withBlock = cardTables([cardRow(meta, reflectionProblems, summary, reflectionProblems)]);
    assert.match(withBlock, /greedy acc: blocked \(Δ pp\)/);
    assert.match(withBlock, /\| 0\.0% \(\+0\.0 \[\+0\.0, \+0\.0\]\)/);
    assert.throws(
      () => cardRow(meta, reflectionProblems, { ...summary, sampled: undefined }, null),
      /no samples/,
    );
  });
});
