// The mechanism table (issue 10, item 7): per condition, the within-group AUROC of its reward and
// the log-prob × advantage covariance averaged between validation evaluations, with the
// validation accuracy at each window's end, over seeds.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { LoadedRun } from "../src/analysis/conditions.ts";
import { mechanismRows } from "../src/analysis/mechanism.ts";
import { buildSummary } from "../src/analysis/summary.ts";
import { renderReport } from "../src/report/build.ts";

/** A run of 8 steps, validated at steps 4 and 8, whose AUROC and covariance are planted per step. */
function run(
  reward: string,
  seed: number,
  auroc: (step: number) => number,
  more: Partial<LoadedRun> = {},
): LoadedRun {
  const steps = Array.from({ length: 8 }, (_, i) => {
    const step = i + 1;
    return {
      step,
      [`auroc/${reward === "correctness" ? "self-certainty" : reward}`]: auroc(step),
      // Another reward's AUROC, which the row must not read.
      "auroc/token-entropy": reward === "token-entropy" ? auroc(step) : 0.99,
      entropy_cov: 0.01 * step,
      ...(step % 4 === 0 ? { val: { mean_at_k: 0.1 * step + seed / 100 } } : {}),
    };
  });
  return {
    id: `base-${reward}-s${seed}`,
    group: "base",
    model: "m",
    reward,
    seed,
    steps: 8,
    dir: "/nonexistent",
    metrics: { steps, evals: [], events: [] },
    ...more,
  };
}

describe("mechanism signals", () => {
  test("windows end at validation steps; each run's window mean, then mean ± std over seeds", () => {
    const rows = mechanismRows([
      run("self-certainty", 0, (s) => (s <= 4 ? 0.7 : 0.5)),
      run("self-certainty", 1, (s) => (s <= 4 ? 0.6 : 0.5)),
    ]);
    assert.equal(rows.length, 1);
    const [r] = rows;
    assert.equal(r.condition, "base/self-certainty");
    assert.equal(r.signal, "self-certainty");
    assert.equal(r.seeds, 2);
    assert.deepEqual(
      r.windows.map((w) => [w.from, w.to]),
      [
        [1, 4],
        [5, 8],
      ],
    );
    const [early, late] = r.windows;
    assert.ok(Math.abs((early.auroc?.mean ?? 0) - 0.65) < 1e-12);
    assert.ok(Math.abs((early.auroc?.std ?? 0) - Math.sqrt(0.005)) < 1e-12);
    assert.ok(Math.abs((late.auroc?.mean ?? 0) - 0.5) < 1e-12);
    // cov = 0.01·step: mean over steps 1..4 is 0.025, over 5..8 0.065, the same in both seeds.
    assert.ok(Math.abs((early.cov?.mean ?? 0) - 0.025) < 1e-12);
    assert.ok(Math.abs((late.cov?.mean ?? 0) - 0.065) < 1e-12);
    assert.equal(late.cov?.std, 0);
    // Validation accuracy at the window's last step, averaged over seeds (0.8 + 0.00, 0.8 + 0.01).
    assert.ok(Math.abs((late.val?.mean ?? 0) - 0.805) < 1e-12);
  });

  test("RLVR rows show self-certainty's AUROC; methods, mixing and runs without the signal are left out", () => {
    const rows = mechanismRows([
      run("correctness", 0, () => 0.6),
      run("token-entropy", 0, () => 0.55),
      run("self-certainty", 0, () => 0.9, { method: "kl-cov", id: "m" }),
      run("self-certainty", 0, () => 0.9, { group: "mix", alpha: 0.5, id: "x" }),
      {
        ...run("trajectory-entropy", 0, () => 0.6),
        metrics: { steps: [{ step: 1 }], evals: [], events: [] },
      },
    ]);
    assert.deepEqual(
      rows.map((r) => [r.condition, r.signal, r.windows[0].auroc?.mean]),
      [
        ["base/correctness", "self-certainty", 0.6],
        ["base/token-entropy", "token-entropy", 0.55],
      ],
    );
  });

  test("the summary carries the rows and the report shows them", async () => {
    const runs = [run("self-certainty", 0, (s) => (s <= 4 ? 0.7 : 0.5))];
    const summary = buildSummary({ profile: "quick", runs });
    assert.equal(summary.mechanism.length, 1);
    const { html } = await renderReport({ profile: "quick", runs }, summary);
    assert.match(html, /<h2>Mechanism signals<\/h2>/);
    assert.match(html, /steps 1–4<\/th><th>steps 5–8/);
    assert.match(html, /AUROC \(self-certainty\)<\/td><td>0\.700<\/td><td>0\.500/);
  });
});
