// The report from synthetic runs: a self-contained HTML page (inline SVG charts, no external
// URLs, the findings table) and the JSON summary that analysis builds.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import type { LoadedRun } from "../src/analysis/conditions.ts";
import { readRun } from "../src/analysis/runs.ts";
import { buildSummary } from "../src/analysis/summary.ts";
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
      run("sc0", "base", "self-certainty", {
        steps: 12,
        acc: rise,
        entropy: H,
        sampled: { 0: 0.1, 4: 0.3, 8: 0.2, 12: 0.05 },
      }),
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
      run("g1", "guard", "token-entropy", { steps: 12, acc: { 0: 0.3, 4: 0.5, 8: 0.2, 12: 0.1 } }),
    ];
    const input = { profile: "test", runs, notes: ["a note <&>"] };
    const summary = buildSummary(input);
    const { html, markdown, headlineSvg } = await renderReport(input, summary);
    assert.match(html, /^<!doctype html>/);
    assert.ok((html.match(/<svg/g) ?? []).length >= 10, "charts are inline SVG");
    assert.doesNotMatch(html, /<script/i);
    assert.doesNotMatch(html, /(src|href)\s*=\s*["']?\s*(https?:)?\/\//i, "no external resources");
    assert.doesNotMatch(html, /@import|url\((?!#)/i, "only in-document url(#id) references");
    for (const id of ["F1", "F2", "F3", "F4", "F5", "F6"])
      assert.match(html, new RegExp(`<tr class="(agrees|disagrees|inconclusive)"><td>${id}</td>`));
    assert.match(html, /a note &lt;&amp;&gt;/);
    const mdRows = markdown.split("\n").filter((l) => /^\| F[1-6]: /.test(l));
    assert.equal(mdRows.length, 12, "greedy and sampled tables");
    assert.ok(mdRows.every((l) => / (agrees|disagrees|inconclusive) \|$/.test(l)));
    assert.match(headlineSvg ?? "", /^<svg/);
    // The summary carries the computed verdicts and the guard outcome.
    assert.equal(summary.findings.length, 6);
    const sc = summary.conditions.find((c) => c.group === "base" && c.reward === "self-certainty");
    assert.equal(sc?.seeds, 2);
    assert.ok(Math.abs((sc?.early?.mean ?? 0) - 0.125) < 1e-12); // (0.15 + 0.10) / 2
    assert.equal(summary.guards[0]?.fired, true);
    assert.equal(summary.guards[0]?.rolledBackTo, 4);
    assert.ok(Math.abs((summary.guards[0]?.keptGain ?? 0) - 0.15) < 1e-12);
    assert.equal(summary.guards[0]?.keepsEarlyGain, true);
    // One guard summary per guarded reward; the second never fired and lost accuracy.
    assert.deepEqual(
      summary.guards.map((g) => [g.reward, g.fired, g.keepsEarlyGain]),
      [
        ["self-certainty", true, true],
        ["token-entropy", false, false],
      ],
    );
    // Sampled accuracy: its own conditions and findings (only sc0 evaluated samples).
    const scs = summary.sampled?.conditions.find((c) => c.group === "base" && c.reward === "self-certainty");
    assert.equal(scs?.start?.mean, 0.1);
    assert.ok(Math.abs((scs?.early?.mean ?? 0) - 0.2) < 1e-12);
    assert.ok(Math.abs((scs?.final?.mean ?? 0) + 0.05) < 1e-12);
    assert.equal(summary.sampled?.findings.length, 6);
    assert.match(html, /same findings on sampled accuracy/);
    assert.equal(markdown.split("\n").filter((l) => /^\| F1: /.test(l)).length, 2);
    assert.ok(
      Math.abs(
        (summary.correlations["base/self-certainty"]["self-certainty~token-entropy"]?.mean ?? 0) - 0.9,
      ) < 1e-12,
    );
    JSON.parse(JSON.stringify(summary));
  });
});
