// The study's inference against known answers: quantiles and Holm's correction by hand, interval
// coverage and false-positive rates of the crossed bootstrap on planted effects, equivalence tests
// on planted cases, the power formula, and the mechanism signals on hand-computed inputs.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  designSe,
  equivalenceTest,
  holm,
  minimumDetectableEffect,
  nonInferiorityTest,
  normalQuantile,
  pairedBootstrap,
  subtractGrids,
  withinGroupAuroc,
} from "../src/analysis/statistics.ts";
import { Random } from "../src/engine/random.ts";

const close = (a: number, b: number, tol: number) => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);

/** d[s][p] = effect + seed effect + problem effect + cell noise (problem effects shared by seeds). */
function planted(
  rng: Random,
  o: { effect: number; seeds: number; problems: number; sdSeed: number; sdProblem: number; sdCell: number },
) {
  const seedFx = Array.from({ length: o.seeds }, () => o.sdSeed * rng.normal());
  const probFx = Array.from({ length: o.problems }, () => o.sdProblem * rng.normal());
  return seedFx.map((sf) => probFx.map((pf) => o.effect + sf + pf + o.sdCell * rng.normal()));
}

describe("normal quantile", () => {
  test("matches tabulated values", () => {
    close(normalQuantile(0.975), 1.959963984540054, 1e-8);
    close(normalQuantile(0.8), 0.8416212335729143, 1e-8);
    close(normalQuantile(0.001), -3.090232306167813, 1e-8);
    close(normalQuantile(0.5), 0, 1e-12);
    close(normalQuantile(0.3) + normalQuantile(0.7), 0, 1e-12);
  });
  test("rejects probabilities outside (0, 1)", () => {
    assert.throws(() => normalQuantile(1), /must be in \(0, 1\)/);
  });
});

describe("Holm correction", () => {
  test("step-down adjusted p-values, monotone, in input order", () => {
    // Sorted: 0.005·4 = 0.02, 0.01·3 = 0.03, 0.03·2 = 0.06, 0.04·1 = 0.04 → raised to 0.06.
    assert.deepEqual(
      holm([0.01, 0.04, 0.03, 0.005]).map((p) => +p.toFixed(10)),
      [0.03, 0.06, 0.06, 0.02],
    );
    assert.deepEqual(holm([0.5, 0.9]), [1, 1]);
    assert.deepEqual(holm([0.02, 0.03]), [0.04, 0.04]);
    assert.deepEqual(holm([]), []);
  });
});

describe("paired bootstrap over seeds and problems", () => {
  const design = { seeds: 5, problems: 120, sdSeed: 0.02, sdProblem: 0.15, sdCell: 0.2 };

  test("a 95% interval covers a planted effect at about its nominal rate", () => {
    const rng = new Random(7);
    let covered = 0;
    const reps = 200;
    for (let r = 0; r < reps; r++) {
      const d = planted(rng, { effect: 0.05, ...design });
      const iv = pairedBootstrap(d, { resamples: 400, seed: r });
      if (iv.lo <= 0.05 && 0.05 <= iv.hi) covered++;
    }
    const rate = covered / reps;
    assert.ok(rate >= 0.88 && rate <= 0.995, `coverage ${rate}`);
  });

  test("with no effect, p < 0.05 about 5% of the time; a large planted effect is found", () => {
    const rng = new Random(11);
    let falsePos = 0;
    const reps = 200;
    for (let r = 0; r < reps; r++) {
      const iv = pairedBootstrap(planted(rng, { effect: 0, ...design }), { resamples: 400, seed: r });
      if (iv.p < 0.05) falsePos++;
    }
    assert.ok(falsePos / reps <= 0.12, `false positives ${falsePos}/${reps}`);
    const big = pairedBootstrap(planted(rng, { effect: 0.2, ...design }), { resamples: 400 });
    assert.ok(big.lo > 0 && big.p < 0.01, JSON.stringify(big));
  });

  test("estimate is the grid mean; the interval narrows with more problems; deterministic per seed", () => {
    const rng = new Random(3);
    const small = planted(rng, { effect: 0.1, ...design, problems: 50 });
    const large = planted(rng, { effect: 0.1, ...design, problems: 800 });
    const a = pairedBootstrap(small, { seed: 1 });
    const b = pairedBootstrap(large, { seed: 1 });
    const mean = small.flat().reduce((x, y) => x + y, 0) / small.flat().length;
    close(a.estimate, mean, 1e-12);
    assert.ok(b.hi - b.lo < a.hi - a.lo);
    assert.deepEqual(pairedBootstrap(small, { seed: 1 }), a);
    assert.equal(a.seeds, 5);
    assert.equal(a.problems, 50);
  });

  test("one seed: a bootstrap over problems only, with the textbook standard error", () => {
    const rng = new Random(5);
    const row = Array.from({ length: 400 }, () => (rng.next() < 0.3 ? 1 : 0) - (rng.next() < 0.2 ? 1 : 0));
    const iv = pairedBootstrap([row], { resamples: 4000 });
    const m = row.reduce((a, b) => a + b, 0) / row.length;
    const sd = Math.sqrt(row.reduce((a, b) => a + (b - m) ** 2, 0) / (row.length - 1));
    close(iv.se, sd / Math.sqrt(row.length), 0.1 * (sd / Math.sqrt(row.length)));
  });

  test("bad grids are errors", () => {
    assert.throws(() => pairedBootstrap([]), /no seeds/);
    assert.throws(() => pairedBootstrap([[1, 2], [1]]), /rows of 1 and 2/);
    assert.throws(() => pairedBootstrap([[1, Number.NaN]]), /non-finite/);
    assert.throws(() => subtractGrids([[1]], [[1], [2]]), /1 and 2 seeds/);
  });
});

describe("equivalence and non-inferiority", () => {
  const design = { seeds: 5, problems: 300, sdSeed: 0.005, sdProblem: 0.05, sdCell: 0.05 };
  test("TOST accepts a planted null, rejects a planted large effect, abstains on noise", () => {
    const rng = new Random(21);
    assert.equal(equivalenceTest(planted(rng, { effect: 0, ...design }), 0.03).verdict, "equivalent");
    assert.equal(equivalenceTest(planted(rng, { effect: 0.15, ...design }), 0.03).verdict, "not equivalent");
    const noisy = planted(rng, { effect: 0, seeds: 1, problems: 20, sdSeed: 0, sdProblem: 0.5, sdCell: 0.5 });
    assert.equal(equivalenceTest(noisy, 0.03).verdict, "undecided");
    assert.equal(equivalenceTest(noisy, 0.03).interval.level, 0.9);
  });
  test("non-inferiority: a gain passes, a planted fall fails", () => {
    const rng = new Random(22);
    assert.equal(nonInferiorityTest(planted(rng, { effect: 0.1, ...design }), 0.03).verdict, "equivalent");
    assert.equal(
      nonInferiorityTest(planted(rng, { effect: -0.2, ...design }), 0.03).verdict,
      "not equivalent",
    );
  });
});

describe("power", () => {
  test("minimum detectable effect of the crossed design", () => {
    // (z_.975 + z_.8) · sd / √n with one seed and no seed variance.
    close(
      minimumDetectableEffect({ sdProblem: 0.3, sdSeed: 0, problems: 512, seeds: 1 }),
      2.8015852 * (0.3 / Math.sqrt(512)),
      1e-6,
    );
    close(
      designSe({ sdProblem: 0.4, sdSeed: 0.02, problems: 100, seeds: 4 }),
      Math.sqrt(0.0004 / 4 + 0.16 / 400),
      1e-15,
    );
    // Matches simulation: at the MDE the test finds the effect ~80% of the time.
    const rng = new Random(9);
    const o = { sdProblem: 0.2, sdSeed: 0, sdCell: 0, seeds: 1, problems: 150 };
    const mde = minimumDetectableEffect({ sdProblem: 0.2, sdSeed: 0, problems: 150, seeds: 1 });
    let hits = 0;
    for (let r = 0; r < 150; r++)
      if (pairedBootstrap(planted(rng, { effect: mde, ...o }), { resamples: 300, seed: r }).lo > 0) hits++;
    assert.ok(hits / 150 > 0.68 && hits / 150 < 0.92, `power ${hits / 150}`);
  });
});

describe("mechanism signals", () => {
  test("within-group AUROC pools pairs of each group; ties count half; one-sided groups carry none", () => {
    const r = withinGroupAuroc([
      { scores: [3, 1, 2], correct: [true, false, false] }, // 2 wins of 2
      { scores: [1, 2, 2], correct: [true, false, true] }, // right {1, 2} vs wrong {2}: 0 + 0.5
      { scores: [5, 6], correct: [true, true] },
    ]);
    assert.deepEqual(r, { auroc: 2.5 / 4, pairs: 4, groups: 2 });
    assert.equal(withinGroupAuroc([{ scores: [1], correct: [false] }]), null);
  });
});
