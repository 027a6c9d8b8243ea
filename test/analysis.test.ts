// Analysis over metrics.jsonl runs: parsing, seed aggregation, gains, collapse, rank correlation
// and the F1–F6 decision rules, on hand-made curves with hand-computed expected values.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  type ConditionSummary,
  evalNoise,
  type LoadedRun,
  summarizeCondition,
} from "../src/analysis/conditions.ts";
import {
  aggregate,
  detectCollapse,
  earlyGain,
  endWindows,
  evalCurve,
  finalGain,
  peakGain,
  spearman,
  stepCurve,
} from "../src/analysis/curves.ts";
import { computeFindings } from "../src/analysis/findings.ts";
import { parseMetrics } from "../src/analysis/runs.ts";
import { metricsLines, type SyntheticRun } from "./helpers/synthetic-runs.ts";

const close = (a: number, b: number, tol = 1e-12) => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);

function loaded(r: SyntheticRun, info: Partial<LoadedRun> = {}): LoadedRun {
  return {
    id: "x",
    group: "base",
    model: "m",
    reward: "self-certainty",
    seed: 0,
    steps: r.steps,
    dir: "/nowhere",
    ...info,
    metrics: parseMetrics(metricsLines(r)),
  };
}

describe("metrics parsing", () => {
  test("steps, evaluations and events; the last line of a repeated step wins", () => {
    const m = parseMetrics(
      [
        '{"step":0,"eval":{"greedy_accuracy":0.1}}',
        '{"step":1,"mean_token_entropy":3}',
        '{"step":1,"mean_token_entropy":2}',
        '{"step":2,"mean_token_entropy":1,"eval":{"greedy_accuracy":0.3}}',
        '{"step":2,"event":"guard-rollback","to_step":0}',
        "",
      ].join("\n"),
    );
    assert.deepEqual(stepCurve(m, "mean_token_entropy"), [
      { step: 1, value: 2 },
      { step: 2, value: 1 },
    ]);
    assert.deepEqual(evalCurve(m), [
      { step: 0, value: 0.1 },
      { step: 2, value: 0.3 },
    ]);
    assert.deepEqual(m.events, [{ step: 2, event: "guard-rollback", to_step: 0 }]);
  });

  test("a torn last line is dropped; a bad line elsewhere names file and line", () => {
    assert.equal(parseMetrics('{"step":1}\n{"step":2,"x"').steps.length, 1);
    assert.throws(
      () => parseMetrics('{"step":1}\n{oops\n{"step":3}\n', "run/metrics.jsonl"),
      /run\/metrics\.jsonl:2: not valid JSON/,
    );
    assert.throws(
      () => parseMetrics('{"step":1}\n{"nostep":1}\n{"step":3}\n', "m.jsonl"),
      /m\.jsonl:2: missing or invalid "step"/,
    );
    assert.throws(() => parseMetrics("[1,2]\n{}\n", "m.jsonl"), /m\.jsonl:1: expected a JSON object/);
  });
});

describe("curves", () => {
  test("aggregate over seeds: mean, sample std, min, max, per step", () => {
    const a = aggregate([
      [
        { step: 0, value: 1 },
        { step: 5, value: 2 },
      ],
      [
        { step: 0, value: 3 },
        { step: 5, value: 6 },
      ],
      [{ step: 0, value: 5 }],
    ]);
    assert.equal(a.length, 2);
    assert.deepEqual(a[0], { step: 0, n: 3, mean: 3, std: 2, min: 1, max: 5 }); // var = (4+0+4)/2
    assert.equal(a[1].n, 2);
    close(a[1].mean, 4);
    close(a[1].std, Math.sqrt(8)); // (2-4)^2+(6-4)^2 over 1
  });

  const c = [
    { step: 0, value: 0.2 },
    { step: 2, value: 0.35 },
    { step: 4, value: 0.4 },
    { step: 6, value: 0.5 },
    { step: 8, value: 0.1 },
  ];
  test("early gain is the peak within the first part minus step 0; final gain the last minus step 0", () => {
    const e = earlyGain(c, 8, 0.5); // window (0, 4]
    assert.ok(e);
    close(e.gain, 0.2);
    assert.equal(e.peakStep, 4);
    const p = peakGain(c);
    close(p?.gain ?? Number.NaN, 0.3);
    close(finalGain(c) ?? Number.NaN, -0.1);
    assert.equal(earlyGain(c.slice(1), 8), null, "no step 0: undefined");
    assert.equal(finalGain([{ step: 0, value: 1 }]), null);
  });

  test("end windows average the first and last 20% of points", () => {
    const w = endWindows([1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((v, i) => ({ step: i + 1, value: v })));
    assert.deepEqual(w, { first: 1.5, last: 9.5 });
  });

  test("collapse: first step below the entropy / transitional thresholds, accuracy below start after the peak", () => {
    const run = loaded({
      steps: 8,
      acc: { 0: 0.2, 2: 0.35, 4: 0.4, 6: 0.5, 8: 0.1 },
      entropy: (s) => 2 - 0.3 * s, // < 1 (half of the first step's 1.7 = 0.85) first at s = 4 (0.8)
      transitional: (s) => (s < 7 ? 1 : 0.1),
    });
    assert.deepEqual(detectCollapse(run.metrics), { entropyStep: 4, transitionalStep: 7, accuracyStep: 8 });
    assert.equal(detectCollapse(run.metrics, { margin: 0.15 }).accuracyStep, null); // 0.1 is not below 0.2 - 0.15
  });

  test("spearman: monotone = ±1, ties get average ranks, constant = null", () => {
    close(spearman([0, 0.25, 0.5, 0.75, 1], [5, 4, 3, 2, 1]) ?? 0, -1);
    close(spearman([1, 2, 3], [1, 3, 2]) ?? 0, 0.5); // ranks (1,3,2): 1 - 6*2/(3*8)
    // ranks x (1,2,3,4), y (1.5,1.5,3,4): pearson of ranks
    const r = spearman([1, 2, 3, 4], [7, 7, 8, 9]) ?? 0;
    const ry = [1.5, 1.5, 3, 4];
    const mx = 2.5;
    const my = 2.5;
    const num = [1, 2, 3, 4].reduce((a, x, i) => a + (x - mx) * (ry[i] - my), 0);
    const den = Math.sqrt(
      [1, 2, 3, 4].reduce((a, x) => a + (x - mx) ** 2, 0) * ry.reduce((a, y) => a + (y - my) ** 2, 0),
    );
    close(r, num / den);
    assert.equal(spearman([1, 2, 3], [4, 4, 4]), null);
  });
});

describe("conditions and findings", () => {
  test("a condition over two seeds: gains, drop and margin", () => {
    const s = summarizeCondition([
      loaded({ steps: 8, acc: { 0: 0.2, 4: 0.4, 8: 0.1 } }),
      loaded({ steps: 8, acc: { 0: 0.2, 4: 0.3, 8: 0.2 } }, { seed: 1 }),
    ]);
    assert.equal(s.seeds, 2);
    close(s.early?.mean ?? 0, 0.15);
    close(s.early?.std ?? 0, Math.sqrt(0.005)); // (0.05^2 * 2) / 1
    close(s.final?.mean ?? 0, -0.05);
    close(s.drop?.mean ?? 0, 0.2); // (0.3 + 0.1) / 2
    // margin = 2 max(std/sqrt(2), sqrt(2 * .2 * .8 / 100))
    close(s.margin, 2 * Math.max(Math.sqrt(0.005) / Math.SQRT2, Math.sqrt(0.32 / 100)));
    close(evalNoise(0, 100), Math.sqrt((2 * 0.01 * 0.99) / 100)); // p clipped to 1/n
  });

  const cond = (
    reward: string,
    acc: Record<number, number>,
    extra: Partial<SyntheticRun> = {},
    group: LoadedRun["group"] = "base",
    alpha?: number,
  ) => summarizeCondition([loaded({ steps: 20, acc, n: 400, ...extra }, { reward, group, alpha })]);

  test("the paper's pattern gives agrees for F1-F6", () => {
    const rise = { 0: 0.3, 5: 0.45, 10: 0.4, 15: 0.25, 20: 0.1 };
    const falling = { entropy: (s: number) => 3 - 0.1 * s, transitional: (s: number) => 2 - 0.08 * s };
    const conds: ConditionSummary[] = [
      cond("self-certainty", rise, falling),
      cond("token-entropy", rise, falling),
      cond("trajectory-entropy", rise, falling),
      cond("correctness", { 0: 0.3, 5: 0.4, 10: 0.5, 15: 0.55, 20: 0.6 }),
      cond("self-certainty", { 0: 0.6, 5: 0.61, 10: 0.6, 20: 0.55 }, {}, "instruct"),
      ...[0, 0.5, 1].map((a) =>
        cond(
          "self-certainty",
          { 0: 0.3, 5: 0.3 + 0.2 * (1 - a), 20: 0.3 },
          { entropy: () => 3 - a },
          "mix",
          a,
        ),
      ),
    ];
    // entropy 3 − 0.1s < 2.9 / 2 first at s = 16; transitional 2 − 0.08s never < 0.2·1.92 by step 20;
    // accuracy 0.1 at step 20 < 0.3 − margin (2·√(2·0.3·0.7/400) ≈ 0.065).
    assert.deepEqual(conds[0].collapse, [{ entropyStep: 16, transitionalStep: null, accuracyStep: 20 }]);
    const f = computeFindings(conds);
    assert.deepEqual(
      f.map((x) => `${x.id}:${x.verdict}`),
      ["F1:agrees", "F2:agrees", "F3:agrees", "F4:agrees", "F5:agrees", "F6:agrees"],
    );
  });

  test("the opposite pattern gives disagrees, missing data inconclusive", () => {
    const flat = { 0: 0.3, 5: 0.3, 10: 0.3, 20: 0.3 };
    const conds: ConditionSummary[] = [
      cond("self-certainty", flat),
      cond("token-entropy", flat),
      cond("trajectory-entropy", flat),
      cond("self-certainty", { 0: 0.3, 5: 0.6, 20: 0.6 }, {}, "instruct"),
      ...[0, 0.5, 1].map((a) =>
        cond("self-certainty", { 0: 0.3, 5: 0.3 + 0.2 * a, 20: 0.3 }, { entropy: () => 3 + a }, "mix", a),
      ),
    ];
    const f = Object.fromEntries(computeFindings(conds).map((x) => [x.id, x.verdict]));
    assert.deepEqual(f, {
      F1: "disagrees",
      F2: "disagrees",
      F3: "inconclusive", // no RLVR run
      F4: "disagrees",
      F5: "disagrees",
      F6: "disagrees",
    });
    assert.ok(computeFindings([]).every((x) => x.verdict === "inconclusive"));
    // Nothing moved anywhere (too short a profile): accuracy findings are not disagreements.
    const still = computeFindings([cond("self-certainty", flat), cond("correctness", flat)]);
    assert.deepEqual(
      still.filter((x) => ["F1", "F2"].includes(x.id)).map((x) => x.verdict),
      ["inconclusive", "inconclusive"],
    );
    assert.match(still[0].observed, /no run of the study changed accuracy/);
  });
});
