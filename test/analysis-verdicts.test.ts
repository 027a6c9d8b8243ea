// The study's decision rules on synthetic per-problem records with planted effects: each verdict
// agrees, disagrees or is "not testable" exactly when the planted truth says so, and every
// selection reads the validation split only.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseProblemLines, problemLines, splitRecords } from "../src/analysis/records.ts";
import { peakStep } from "../src/analysis/selection.ts";
import {
  type ConditionRecords,
  DEFAULT_DESIGN,
  decideAll,
  gainGrid,
  studyEffects,
  type VerdictInputs,
} from "../src/analysis/verdicts.ts";
import type { ProblemRecord } from "../src/eval/evaluate.ts";
import { plantCondition, plantRun } from "./helpers/synthetic-records.ts";

const SEEDS = [0, 1, 2];
const design = { ...DEFAULT_DESIGN, earlyStep: 8, resamples: 600 };
const opts = { problems: 300, k: 8 };
const flat = { 0: 0, 8: 0, 16: 0, 24: 0 };
const riseThenFall = { 0: 0, 8: 0.15, 16: 0.05, 24: -0.2 };
const steadyRise = { 0: 0, 8: 0.12, 16: 0.18, 24: 0.22 };

function study(o: {
  internal: Record<number, number>;
  rlvr: Record<number, number>;
  instruct?: Record<number, number>;
  /** The instruct model's starting accuracy (default 0.8: near the ceiling, as the organism's). */
  instructBase?: number;
  entropy?: Record<number, number>;
  transitional?: Record<number, number>;
}): VerdictInputs {
  const base = ["self-certainty", "token-entropy", "trajectory-entropy"].map((r, i) =>
    plantCondition(
      r,
      { shift: o.internal, entropyShift: o.entropy, transitionalShift: o.transitional },
      SEEDS,
      {
        ...opts,
        salt: i + 1,
      },
    ),
  );
  const instruct: ConditionRecords[] = o.instruct
    ? [
        plantCondition("self-certainty", { shift: o.instruct }, SEEDS, {
          ...opts,
          base: 0.8,
          salt: 9,
          group: "instruct",
        }),
      ]
    : [];
  return {
    base,
    rlvr: plantCondition("correctness", { shift: o.rlvr }, SEEDS, { ...opts, salt: 5 }),
    instruct,
    mix: [],
    design,
  };
}

const verdicts = (x: VerdictInputs) => Object.fromEntries(decideAll(x).map((v) => [v.id, v.verdict]));

describe("verdict rules on planted effects", () => {
  test("F1 is not testable when the positive control (RLVR) is flat, whatever RLIF does", () => {
    const v = verdicts(study({ internal: riseThenFall, rlvr: flat }));
    assert.equal(v.F1, "not testable");
  });

  test("a study of the positive control alone: F1 and F2 are not testable, and say why", () => {
    const x = { ...study({ internal: flat, rlvr: steadyRise }), base: [] };
    const [f1, f2] = decideAll(x);
    assert.equal(f1.verdict, "not testable");
    assert.match(f1.observed, /RLVR early gain \+\d/);
    assert.match(f1.observed, /no internal-reward runs/);
    assert.equal(f2.verdict, "not testable");
  });

  test("a rise-then-fall under RLIF with a rising control: F1, F2, F3 agree", () => {
    const x = study({
      internal: riseThenFall,
      rlvr: steadyRise,
      entropy: { 0: 0, 24: -0.1 },
      transitional: { 0: 0, 24: -1 },
    });
    const v = verdicts(x);
    assert.equal(v.F1, "agrees");
    assert.equal(v.F2, "agrees");
    assert.equal(v.F3, "agrees");
    assert.equal(v.F5, "agrees");
    const f1 = decideAll(x)[0];
    assert.match(f1.observed, /n = 3 seeds × 300 problems/);
    assert.match(f1.observed, /p_Holm/);
  });

  test("no RLIF effect with a working control: F1 and F2 disagree; F3 and F6 are not testable", () => {
    const v = verdicts(study({ internal: flat, rlvr: steadyRise }));
    assert.equal(v.F1, "disagrees");
    assert.equal(v.F2, "disagrees");
    assert.equal(v.F3, "not testable");
    assert.equal(v.F5, "disagrees");
    assert.equal(v.F6, "not testable");
  });

  test("F3 disagrees when RLVR collapses too", () => {
    assert.equal(
      verdicts(study({ internal: riseThenFall, rlvr: { 0: 0, 8: 0.1, 16: 0, 24: -0.25 } })).F3,
      "disagrees",
    );
  });

  test("F4: not testable without a base gain; agrees when the instruct model stays flat; disagrees when it gains as much or more", () => {
    assert.equal(verdicts(study({ internal: flat, rlvr: steadyRise, instruct: flat })).F4, "not testable");
    assert.equal(verdicts(study({ internal: riseThenFall, rlvr: steadyRise, instruct: flat })).F4, "agrees");
    assert.equal(
      verdicts(
        study({
          internal: riseThenFall,
          rlvr: steadyRise,
          instruct: { 0: 0, 8: 0.2, 16: 0.2, 24: 0.2 },
          instructBase: 0.4,
        }),
      ).F4,
      "disagrees",
    );
  });
});

describe("selection reads validation only", () => {
  test("the peak is the best validation step even when the test split peaks elsewhere", () => {
    // Test accuracy peaks at step 8, validation at step 16: the peak used for "peak − final" is 16.
    const c = plantCondition(
      "self-certainty",
      { shift: { 0: 0, 8: 0.3, 16: 0.05, 24: 0 }, valShift: { 0: 0, 8: 0, 16: 0.2, 24: 0 } },
      SEEDS,
      opts,
    );
    for (const r of c.runs) assert.equal(peakStep(r.val), 16);
    const drop = gainGrid(c, "peak", "final")!;
    const direct = gainGrid(c, 16, "final")!;
    assert.deepEqual(drop, direct);
  });

  test("verdicts do not change when test records at unscheduled steps are made adversarial", () => {
    const x = study({ internal: riseThenFall, rlvr: steadyRise });
    const before = JSON.stringify(studyEffects(x).drop.map((e) => e?.interval.estimate));
    // Validation picks step 8 for every run; a test evaluation at step 16 claiming 100% must not matter.
    for (const c of x.base)
      for (const r of c.runs) {
        const at16 = r.test.at(16)!;
        for (const [id, l] of at16) at16.set(id, { ...l, correct: l.k, greedy: 1 });
      }
    assert.equal(JSON.stringify(studyEffects(x).drop.map((e) => e?.interval.estimate)), before);
  });

  test("a peak step is chosen only among steps the caller allows (e.g. with a test evaluation)", () => {
    const lines = plantRun({ shift: { 0: 0, 8: 0.2, 16: 0.1 }, testSteps: [0, 16] }, { ...opts, runSeed: 1 });
    const { val, test } = splitRecords(lines);
    assert.equal(peakStep(val), 8);
    assert.equal(
      peakStep(val, "sampled", (s) => test.has(s)),
      16,
    );
  });
});

describe("per-problem records", () => {
  test("built from the harness's records; parsed back; bad lines name file and line", () => {
    const rec = (correct: boolean, stopped = true) => ({
      text: "",
      answer: null,
      correct,
      length: 3,
      stopped,
      meanEntropy: 0.5,
      meanSelfCertainty: 1,
      trajectoryLogp: -1,
      meanLogp: -0.3,
      transitionalRate: 2,
      reflects: true,
    });
    const problems: ProblemRecord[] = [
      { id: "a", gold: "1", greedy: rec(true), samples: [rec(true), rec(false, false), rec(true)] },
    ];
    const lines = problemLines(4, "test", problems);
    assert.deepEqual(lines[0], {
      step: 4,
      split: "test",
      id: "a",
      greedy: 1,
      greedy_cut: 0,
      k: 3,
      correct: 2,
      cut: 1,
      entropy: 0.5,
      transitional: 2,
    });
    const text = `${lines.map((l) => JSON.stringify(l)).join("\n")}\n`;
    assert.deepEqual(parseProblemLines(text), lines);
    assert.throws(
      () => parseProblemLines(`{"step":1}\n{}\n`, "r/evals.jsonl"),
      /r\/evals.jsonl:1: "split" must be/,
    );
    assert.throws(
      () => parseProblemLines(`${JSON.stringify({ ...lines[0], correct: 9 })}\n`, "e.jsonl"),
      /e.jsonl:1: more correct or cut samples than k/,
    );
    assert.throws(() => parseProblemLines(`nope\n${text}`, "e.jsonl"), /e.jsonl:1: not valid JSON/);
    // A torn last line (a killed writer) is dropped.
    assert.equal(parseProblemLines(`${text}{"step":`).length, 1);
  });
});
