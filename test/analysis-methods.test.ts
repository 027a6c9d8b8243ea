// The questions about the methods beyond the paper on synthetic per-problem records with planted
// effects: Q1 (an internal reward's early gain vs the random-reward control's) and Q2 (KL-Cov keeps
// self-certainty's early gain without the decline) give the verdicts the planted truth says, "not
// testable" when runs are missing; KL-Cov's k is chosen on validation records only; and the
// methods' runs stay apart from the paper's conditions (no F1–F6 verdict moves).

import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import type { LoadedRun } from "../src/analysis/conditions.ts";
import {
  decideQ1,
  decideQ2,
  klCovCondition,
  methodAnswers,
  METHOD_NAMES as N,
} from "../src/analysis/methods.ts";
import { EVALS_FILE } from "../src/analysis/records.ts";
import { readRun } from "../src/analysis/runs.ts";
import { bestCandidate } from "../src/analysis/selection.ts";
import { studyVerdicts } from "../src/analysis/study-records.ts";
import { buildSummary, conditionKey } from "../src/analysis/summary.ts";
import { type ConditionRecords, DEFAULT_DESIGN } from "../src/analysis/verdicts.ts";
import { renderReport } from "../src/report/build.ts";
import { type PlantedRun, plantCondition, plantRun } from "./helpers/synthetic-records.ts";
import { writeSyntheticRun } from "./helpers/synthetic-runs.ts";
import { withTmpDir } from "./helpers/tmp.ts";

const SEEDS = [0, 1, 2];
const design = { ...DEFAULT_DESIGN, earlyStep: 8, resamples: 600 };
const opts = { problems: 300, k: 8 };
const flat = { 0: 0, 8: 0, 16: 0, 24: 0 };
const earlyGain = { 0: 0, 8: 0.12, 16: 0.12, 24: 0.12 };
const riseThenFall = { 0: 0, 8: 0.15, 16: 0.05, 24: -0.2 };
const keeps = { 0: 0, 8: 0.15, 16: 0.15, 24: 0.15 };
const KL = [`k0.002`, `k0.01`];
const withCandidates = { ...design, candidates: { [N.klCov]: KL } };

// Each condition's sampling noise gets its own stream (run seeds seed·31 + salt never collide).
let salt = 1;
/** A paper condition (named by its reward) or, with `method`, one beyond the paper. */
function cond(
  reward: string,
  run: PlantedRun,
  method?: string,
  candidate?: string,
  problems = opts.problems,
): ConditionRecords {
  return {
    ...plantCondition(reward, run, SEEDS, { ...opts, problems, salt: 1000 * salt++ }),
    ...(method ? { method } : {}),
    ...(candidate ? { candidate } : {}),
  };
}

const internal = (shift: Record<number, number>) => [
  cond("self-certainty", { shift }),
  cond("token-entropy", { shift: flat }),
  cond("trajectory-entropy", { shift: flat }),
  cond("majority-vote", { shift: flat }, N.majorityVote),
];

/** The KL-Cov block: plain self-certainty on its schedule and KL-Cov's two candidates. */
const klBlock = (plain: PlantedRun, small: PlantedRun, large: PlantedRun) => [
  cond("self-certainty", plain, N.selfCertainty),
  cond("self-certainty", small, N.klCov, KL[0]),
  cond("self-certainty", large, N.klCov, KL[1]),
];

/** The conditions with every run's test records sealed: reading them throws. */
function sealTest(conds: ConditionRecords[]): ConditionRecords[] {
  return conds.map((c) => ({
    ...c,
    runs: c.runs.map((r) => {
      const o = { ...r };
      Object.defineProperty(o, "test", {
        get() {
          throw new Error("a choice read the test split");
        },
      });
      return o;
    }),
  }));
}

describe("Q1: internal rewards against the random-reward control", () => {
  test("an internal reward gaining early over a flat random control is detected, Holm over rewards", () => {
    const q = decideQ1([...internal(earlyGain), cond("random", { shift: flat }, N.random)], design);
    assert.equal(q.verdict, "agrees");
    assert.match(
      q.observed,
      /self-certainty \+\d+\.\d pts \[[^\]]+\], p_Holm [^,]+, n = 3 seeds × 300 problems \(larger\)/,
    );
    assert.doesNotMatch(q.observed, /token-entropy [^;]*\(larger\)/, "a flat reward is not larger");
    assert.match(q.rule, /Holm over the rewards/);
  });

  test("a random control that gains as much as every internal reward: disagrees", () => {
    // "No" needs every upper bound below δ: enough problems that 3 seeds' noise stays well inside.
    const all = [
      cond("self-certainty", { shift: earlyGain }, undefined, undefined, 1200),
      cond("token-entropy", { shift: earlyGain }, undefined, undefined, 1200),
      cond("trajectory-entropy", { shift: earlyGain }, undefined, undefined, 1200),
      cond("random", { shift: earlyGain }, N.random, undefined, 1200),
    ];
    assert.equal(decideQ1(all, design).verdict, "disagrees");
  });

  test("not testable without the control's runs; the clip pair is reported when present", () => {
    const q = decideQ1(internal(earlyGain), design);
    assert.equal(q.verdict, "not testable");
    assert.match(q.observed, /no random-reward control runs/);
    const withClip = decideQ1(
      [
        ...internal(earlyGain),
        cond("random", { shift: flat }, N.random),
        cond("random", { shift: earlyGain }, N.randomClip),
        cond("random", { shift: flat }, N.randomNoClip),
      ],
      design,
    );
    const share = Number(/on − off ([+-]\d+\.\d) pts/.exec(withClip.observed)?.[1]);
    assert.ok(Math.abs(share - 12) < 4, `the clip's planted 12-point share, got ${share}`);
  });
});

describe("Q2: self-certainty with KL-Cov", () => {
  test("KL-Cov keeping the gain where plain self-certainty declines: agrees", () => {
    const conds = klBlock({ shift: riseThenFall }, { shift: keeps }, { shift: riseThenFall });
    const kl = klCovCondition(conds, withCandidates);
    assert.equal(kl.choice?.chosen, "k0.002");
    const q = decideQ2(conds, withCandidates, kl);
    assert.equal(q.verdict, "agrees");
    assert.match(q.observed, /→ k0\.002/);
    assert.match(
      q.observed,
      /at the final step \+\d+\.\d pts \[[^\]]+\], p [^,]+, n = 3 seeds × 300 problems/,
    );
  });

  test("KL-Cov declining as well: disagrees", () => {
    const conds = klBlock({ shift: riseThenFall }, { shift: riseThenFall }, { shift: riseThenFall });
    assert.equal(decideQ2(conds, withCandidates, klCovCondition(conds, withCandidates)).verdict, "disagrees");
  });

  test("not testable when plain self-certainty does not decline, or a candidate's runs are missing", () => {
    const noDecline = klBlock({ shift: earlyGain }, { shift: keeps }, { shift: keeps });
    const q = decideQ2(noDecline, withCandidates, klCovCondition(noDecline, withCandidates));
    assert.equal(q.verdict, "not testable");
    assert.match(q.observed, /no decline to prevent/);
    const oneMissing = klBlock({ shift: riseThenFall }, { shift: keeps }, { shift: keeps }).slice(0, 2);
    const kl = klCovCondition(oneMissing, withCandidates);
    assert.equal(kl.choice, null, "no choice until every candidate has run");
    const q2 = decideQ2(oneMissing, withCandidates, kl);
    assert.equal(q2.verdict, "not testable");
    assert.match(q2.observed, /not all finished/);
    assert.equal(decideQ2([], withCandidates, klCovCondition([], withCandidates)).verdict, "not testable");
  });
});

describe("KL-Cov's k is chosen on validation only", () => {
  test("validation picks the candidate the test split would not have; the test records are never read", () => {
    // On test k0.01 keeps the gain and k0.002 declines; on validation k0.002 is better at the end.
    const conds = klBlock(
      { shift: riseThenFall },
      { shift: riseThenFall, valShift: keeps },
      { shift: keeps, valShift: riseThenFall },
    );
    const kl = klCovCondition(sealTest(conds), withCandidates);
    assert.equal(kl.choice?.chosen, "k0.002");
    assert.equal(kl.choice?.step, 24);
    assert.deepEqual(
      kl.choice?.scores.map((s) => [s.label, s.seeds, s.problems]),
      [
        ["k0.002", 3, 300],
        ["k0.01", 3, 300],
      ],
    );
    // The reported KL-Cov is the validation choice, so Q2 sees its decline.
    assert.equal(decideQ2(conds, withCandidates, klCovCondition(conds, withCandidates)).verdict, "disagrees");
  });

  test("candidates of other seeds or unfinished runs are not compared", () => {
    const [a, b] = klBlock({ shift: flat }, { shift: keeps }, { shift: keeps }).slice(1);
    const val = (c: ConditionRecords) => c.runs.map(({ seed, final, val }) => ({ seed, final, val }));
    assert.ok(
      bestCandidate([
        { label: "a", runs: val(a) },
        { label: "b", runs: val(b) },
      ]),
    );
    assert.equal(
      bestCandidate([
        { label: "a", runs: val(a) },
        { label: "b", runs: val(b).slice(1) },
      ]),
      null,
    );
    const early = val(b).map((r) => ({ ...r, final: 16 }));
    assert.equal(
      bestCandidate([
        { label: "a", runs: val(a) },
        { label: "b", runs: early },
      ]),
      null,
    );
  });
});

describe("the methods' runs stay apart from the paper's conditions", () => {
  test("F1–F6 are the same with and without the method conditions (listed first)", () => {
    const paper = [
      cond("self-certainty", { shift: riseThenFall }),
      cond("token-entropy", { shift: flat }),
      cond("trajectory-entropy", { shift: flat }),
      cond("correctness", { shift: earlyGain }),
    ];
    const methods = [
      ...klBlock({ shift: keeps }, { shift: keeps }, { shift: flat }),
      cond("random", { shift: earlyGain }, N.random),
    ];
    assert.deepEqual(studyVerdicts([...methods, ...paper], design), studyVerdicts(paper, design));
  });

  test(
    "from run folders: conditions keyed by method, Q1 and Q2 in the summary and the report",
    withTmpDir(async (root) => {
      const runs: LoadedRun[] = [];
      const add = (reward: string, shift: Record<number, number>, method?: string, candidate?: string) => {
        for (const seed of [0, 1]) {
          const name = method ? (candidate ? `${method}-${candidate}` : method) : reward;
          const dir = writeSyntheticRun(join(root, `base-${name}-s${seed}`), {
            steps: 24,
            acc: { 0: 0.4, 8: 0.4, 16: 0.4, 24: 0.4 },
          });
          const lines = plantRun({ shift }, { ...opts, problems: 120, runSeed: 1000 * salt++ });
          writeFileSync(join(dir, EVALS_FILE), `${lines.map((l) => JSON.stringify(l)).join("\n")}\n`);
          const info = { group: "base" as const, model: "m", reward, seed, steps: 24, dir };
          runs.push({
            id: `base-${name}-s${seed}`,
            ...info,
            ...(method ? { method } : {}),
            ...(candidate ? { candidate } : {}),
            metrics: readRun(dir),
          });
        }
      };
      add("self-certainty", riseThenFall);
      add("correctness", earlyGain);
      add("random", flat, N.random);
      add("self-certainty", riseThenFall, N.selfCertainty);
      add("self-certainty", keeps, N.klCov, KL[0]);
      add("self-certainty", flat, N.klCov, KL[1]);
      const d = { earlyStep: 8, delta: 0.05, alpha: 0.05, resamples: 300, candidates: { [N.klCov]: KL } };
      const summary = buildSummary({ profile: "test", runs, design: d });
      assert.deepEqual(summary.conditions.map(conditionKey), [
        "base/self-certainty",
        "base/correctness",
        "base/random",
        `base/${N.selfCertainty}`,
        `base/${N.klCov}-k0.002`,
        `base/${N.klCov}-k0.01`,
      ]);
      assert.equal(summary.methods?.klCovChoice?.chosen, "k0.002");
      assert.deepEqual(
        summary.methods?.sampled.map((q) => q.id),
        ["Q1", "Q2"],
      );
      const paperOnly = buildSummary({ profile: "test", runs: runs.filter((r) => !r.method), design: d });
      assert.deepEqual(summary.verdicts, paperOnly.verdicts, "the paper's verdicts ignore the method runs");
      assert.deepEqual(
        methodAnswers([], d).sampled.map((q) => q.verdict),
        ["not testable", "not testable"],
      );
      const { html, markdown } = await renderReport({ profile: "test", runs }, summary);
      assert.match(html, /Beyond the paper/);
      assert.match(html, /<tr class="[a-z ]+"><td>Q1<\/td>/);
      assert.match(html, /<tr class="[a-z ]+"><td>Q2<\/td>/);
      assert.equal(markdown.split("\n").filter((l) => /^\| Q[12]: /.test(l)).length, 4, "sampled and greedy");
    }),
  );
});
