// The guard (the paper's practical advice): it measures its baseline over the first steps, counts
// consecutive steps below the thresholds, and warns, stops, or rolls back to the best checkpoint.

import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { resolveConfig } from "../src/cli/options.ts";
import { guardShorthand } from "../src/cli/train.ts";
import type { EvalSummary } from "../src/eval/evaluate.ts";
import type { HeldOutResult } from "../src/eval/held-out.ts";
import { loadCheckpointDir } from "../src/model/checkpoint.ts";
import { TrainConfigSchema } from "../src/rl/config.ts";
import { guardStep, initialGuardState } from "../src/rl/guard.ts";
import { trainRl } from "../src/rl/trainer.ts";
import { toyConfig, toyDeps, toyModel } from "./helpers/toy-rl.ts";

function lines(dir: string): Record<string, unknown>[] {
  return readFileSync(join(dir, "metrics.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
}

/** Validation accuracy peaks at step 4, so the best checkpoint is known; the test set peaks at
 *  step 6, which no choice may follow. */
const fakeEval = async (_m: unknown, step: number, due: { test: boolean }): Promise<HeldOutResult[]> => {
  const summary = (acc: number) => ({ n: 10, greedy_accuracy: acc }) as unknown as EvalSummary;
  const out: HeldOutResult[] = [{ split: "val", summary: summary(step === 4 ? 0.9 : 0.5), lines: [] }];
  if (due.test) out.push({ split: "test", summary: summary(step === 6 ? 1 : 0.4), lines: [] });
  return out;
};

const weights = (m: { parameters(): Map<string, { toArray(): number[] }> }) =>
  [...m.parameters().values()].flatMap((t) => t.toArray());

describe("guard", () => {
  // Self-certainty on the toy task lowers entropy by far more than 25% within 20 steps.
  const guard = (mode: string) => ({
    reward: "self-certainty",
    steps: 20,
    eval: { every: 2 },
    guard: { mode, entropy_drop: 0.25, transitional_drop: 0.5, patience: 2, baseline_steps: 3 },
  });

  test("rollback: fires after `patience` low steps against the baseline mean, restores the best validation checkpoint", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rlif-guard-"));
    try {
      const r = await trainRl(toyModel(0), toyConfig(dir, guard("rollback")), {
        ...toyDeps(),
        evaluate: fakeEval,
      });
      assert.equal(r.stoppedBy, "guard");
      const steps = lines(dir).filter((m) => !m.event && (m.step as number) > 0);
      const H = steps.map((m) => m.mean_token_entropy as number);
      const base = (H[0] + H[1] + H[2]) / 3;
      const fired = steps.findIndex((m) => typeof m.guard === "string");
      assert.ok(fired >= 0 && fired < 19, "the guard fired before the last step");
      // Never during the baseline; fired at the second consecutive step below 0.75 × baseline mean.
      assert.ok(fired >= 4, `fired at step ${fired + 1}`);
      assert.ok(H[fired] < 0.75 * base && H[fired - 1] < 0.75 * base);
      assert.ok(!(H[fired - 2] < 0.75 * base) || fired - 2 < 3, "not already at the step before");
      assert.match(steps[fired].guard as string, new RegExp(`start ${base.toFixed(3)}`));
      assert.equal(steps.length, fired + 1, "no step after the guard fired");
      const rb = lines(dir).find((m) => m.event === "guard-rollback");
      assert.equal(rb?.to_step, 4, "the best validation step, not the best test step (6)");
      assert.equal(rb?.validation_target, 4);
      // The label-free target: a kept checkpoint before the first of the `patience` (2) low steps.
      assert.ok(typeof rb?.signals_target === "number" && rb.signals_target < fired);
      const best = loadCheckpointDir(join(dir, "checkpoints", "step-0000004")).model;
      assert.deepEqual(weights(r.model), weights(best));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("rollback_to signals: the label-free target, whatever validation says", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rlif-guard-"));
    try {
      const cfg = guard("rollback");
      const r = await trainRl(
        toyModel(0),
        toyConfig(dir, { ...cfg, guard: { ...cfg.guard, rollback_to: "signals" } }),
        { ...toyDeps(), evaluate: fakeEval },
      );
      const rb = lines(dir).find((m) => m.event === "guard-rollback");
      assert.ok(rb && rb.to_step === rb.signals_target && rb.validation_target === 4);
      const target = loadCheckpointDir(
        join(dir, "checkpoints", `step-${String(rb.to_step).padStart(7, "0")}`),
      ).model;
      assert.deepEqual(weights(r.model), weights(target));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("warn: logs the guard line and trains every step", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rlif-guard-"));
    try {
      const r = await trainRl(toyModel(0), toyConfig(dir, guard("warn")), {
        ...toyDeps(),
        evaluate: fakeEval,
      });
      assert.equal(r.stoppedBy, "steps");
      const steps = lines(dir).filter((m) => !m.event && (m.step as number) > 0);
      assert.equal(steps.length, 20);
      assert.ok(steps.some((m) => typeof m.guard === "string"));
      assert.ok(!lines(dir).some((m) => m.event === "guard-rollback"));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("rlif train --guard [mode]: bare means rollback, a mode is checked, --guard.mode wins", () => {
    const mode = (flags: Record<string, unknown>) =>
      resolveConfig(TrainConfigSchema, guardShorthand(flags)).guard.mode;
    assert.equal(mode({}), "off");
    assert.equal(mode({ guard: true }), "rollback");
    assert.equal(mode({ guard: "warn" }), "warn");
    assert.equal(mode({ guard: true, "guard.mode": "stop" }), "stop");
    assert.throws(() => mode({ guard: "sideways" }), /guard\.mode/);
  });
});

describe("guardStep (the state machine alone)", () => {
  const cfg = TrainConfigSchema.parse({
    guard: { mode: "warn", entropy_drop: 0.5, transitional_drop: 0.5, patience: 2, baseline_steps: 2 },
  }).guard;

  test("baseline = mean of the first steps; fires after `patience` consecutive low steps", () => {
    const s = initialGuardState();
    assert.equal(guardStep(s, cfg, 2, 4), null);
    assert.equal(guardStep(s, cfg, 4, 2), null);
    assert.equal(s.initialEntropy, 3);
    assert.equal(s.initialTransitional, 3);
    assert.equal(guardStep(s, cfg, 1, 3), null); // entropy below 1.5: strike 1
    assert.equal(guardStep(s, cfg, 3, 3), null); // recovered: strikes reset
    assert.equal(s.strikes, 0);
    assert.equal(guardStep(s, cfg, 3, 1), null); // transitional below 1.5: strike 1
    assert.match(
      guardStep(s, cfg, 1, 1) ?? "",
      /^fired: entropy 1\.000 \(start 3\.000\), transitional 1\.00/,
    );
  });

  test("mode off never fires and keeps no baseline", () => {
    const s = initialGuardState();
    for (let i = 0; i < 5; i++) assert.equal(guardStep(s, { ...cfg, mode: "off" }, 0, 0), null);
    assert.equal(s.baseline.n, 0);
  });
});
