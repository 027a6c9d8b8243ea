// The report from synthetic runs: a self-contained HTML page (inline SVG charts, no external
// URLs, the findings table) and a JSON summary; and the study's resume logic.

import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import type { LoadedRun } from "../src/analysis/conditions.ts";
import { isFinished, readRun } from "../src/analysis/runs.ts";
import { executeStudy, PROFILES, planStudy } from "../src/cli/reproduce.ts";
import { renderReport } from "../src/report/build.ts";
import { type SyntheticRun, writeSyntheticRun } from "./helpers/synthetic-runs.ts";

const root = mkdtempSync(join(tmpdir(), "rlif-report-"));
after(() => rmSync(root, { recursive: true, force: true }));

function run(
  id: string,
  group: LoadedRun["group"],
  reward: string,
  r: SyntheticRun,
  extra: Partial<LoadedRun> = {},
): LoadedRun {
  const dir = writeSyntheticRun(join(root, id), r);
  return { id, group, model: "m", reward, seed: 0, steps: r.steps, dir, ...extra, metrics: readRun(dir) };
}

describe("report", () => {
  test("self-contained HTML with charts, findings table and a JSON summary", async () => {
    const rise = { 0: 0.3, 4: 0.45, 8: 0.35, 12: 0.1 };
    const H = (s: number) => 3 - 0.2 * s;
    const runs = [
      run("sc0", "base", "self-certainty", { steps: 12, acc: rise, entropy: H }),
      run(
        "sc1",
        "base",
        "self-certainty",
        { steps: 12, acc: { 0: 0.3, 4: 0.4, 8: 0.3, 12: 0.15 }, entropy: H },
        { seed: 1 },
      ),
      run("te0", "base", "token-entropy", { steps: 12, acc: rise, entropy: H }),
      run("rlvr0", "base", "correctness", { steps: 12, acc: { 0: 0.3, 4: 0.4, 8: 0.5, 12: 0.55 } }),
      run("inst0", "instruct", "self-certainty", { steps: 12, acc: { 0: 0.6, 4: 0.6, 12: 0.55 } }),
      run("mix5", "mix", "self-certainty", { steps: 12, acc: { 0: 0.4, 4: 0.45, 12: 0.4 } }, { alpha: 0.5 }),
      run("g0", "guard", "self-certainty", {
        steps: 12,
        acc: { 0: 0.3, 4: 0.45, 8: 0.35 },
        guardFiredAt: 9,
        rollbackTo: 4,
      }),
    ];
    const { html, summary, markdown, headlineSvg } = await renderReport({
      profile: "test",
      runs,
      notes: ["a note <&>"],
    });
    assert.match(html, /^<!doctype html>/);
    assert.ok((html.match(/<svg/g) ?? []).length >= 10, "charts are inline SVG");
    assert.doesNotMatch(html, /<script/i);
    assert.doesNotMatch(html, /(src|href)\s*=\s*["']?\s*(https?:)?\/\//i, "no external resources");
    assert.doesNotMatch(html, /@import|url\((?!#)/i, "only in-document url(#id) references");
    for (const id of ["F1", "F2", "F3", "F4", "F5", "F6"])
      assert.match(html, new RegExp(`<tr class="(agrees|disagrees|inconclusive)"><td>${id}</td>`));
    assert.match(html, /a note &lt;&amp;&gt;/);
    const mdRows = markdown.split("\n").filter((l) => /^\| F[1-6]: /.test(l));
    assert.equal(mdRows.length, 6);
    assert.ok(mdRows.every((l) => / (agrees|disagrees|inconclusive) \|$/.test(l)));
    assert.match(headlineSvg ?? "", /^<svg/);
    // The summary carries the computed verdicts and the guard outcome.
    assert.equal(summary.findings.length, 6);
    const sc = summary.conditions.find((c) => c.group === "base" && c.reward === "self-certainty");
    assert.equal(sc?.seeds, 2);
    assert.ok(Math.abs((sc?.early?.mean ?? 0) - 0.125) < 1e-12); // (0.15 + 0.10) / 2
    assert.equal(summary.guard?.fired, true);
    assert.equal(summary.guard?.rolledBackTo, 4);
    assert.ok(Math.abs((summary.guard?.keptGain ?? 0) - 0.15) < 1e-12);
    assert.equal(summary.guard?.keepsEarlyGain, true);
    assert.ok(
      Math.abs(
        (summary.correlations["base/self-certainty"]["self-certainty~token-entropy"]?.mean ?? 0) - 0.9,
      ) < 1e-12,
    );
    JSON.parse(JSON.stringify(summary));
  });
});

describe("study resume", () => {
  test("a run is finished when its metrics reach the last step, or when its guard ended it", () => {
    const d = writeSyntheticRun(join(root, "fin"), { steps: 6, acc: { 0: 0.1, 6: 0.2 } });
    assert.equal(isFinished(d, 6), true);
    assert.equal(isFinished(d, 7), false);
    const g = writeSyntheticRun(join(root, "guarded"), {
      steps: 10,
      acc: { 0: 0.1 },
      guardFiredAt: 4,
      rollbackTo: 0,
    });
    assert.equal(isFinished(g, 10, { guardEnds: true }), true);
    assert.equal(isFinished(g, 10), false, "a warn-only guard line does not end a run");
    assert.equal(isFinished(join(root, "absent"), 1), false);
  });

  test("finished runs are skipped, interrupted ones resumed, new ones trained", async () => {
    const out = join(root, "study");
    const profile = { ...PROFILES.quick, steps: 6, alphas: [0], guard: false, instructRewards: [] };
    const plan = planStudy({ out, base: "b", instruct: "i", profile });
    assert.deepEqual(
      plan.map((r) => `${r.group}:${r.id}`),
      [
        "base:base-self-certainty-s0",
        "base:base-token-entropy-s0",
        "base:base-trajectory-entropy-s0",
        "base:base-correctness-s0",
        "mix:base-self-certainty-s0", // α = 0 is the base model: its run is shared
      ],
    );
    writeSyntheticRun(plan[0].dir, { steps: 6, acc: { 0: 0.1, 6: 0.2 } }); // finished
    writeSyntheticRun(plan[1].dir, { steps: 3, acc: { 0: 0.1 } }); // interrupted at step 3
    mkdirSync(join(plan[1].dir, "checkpoints"));
    const calls: { out: string; resume?: boolean }[] = [];
    const done = await executeStudy(
      plan,
      async (cfg, o) => {
        calls.push({ out: cfg.out, resume: o.resume });
      },
      () => {},
    );
    assert.deepEqual(
      done.map((d) => `${d.id}:${d.action}`),
      [
        "base-self-certainty-s0:skipped",
        "base-token-entropy-s0:resumed",
        "base-trajectory-entropy-s0:trained",
        "base-correctness-s0:trained",
      ],
    );
    assert.deepEqual(
      calls.map((c) => c.resume),
      [true, false, false],
    );
    assert.equal(calls[0].out, plan[1].dir);
  });
});
