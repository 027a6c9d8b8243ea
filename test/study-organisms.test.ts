import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { organismStudy } from "../src/study/organisms.ts";
import { PROFILES } from "../src/study/profiles.ts";

describe("organism studies", () => {
  test("v2 runs the full profile at 96 steps of 16 × 8 with 192-token rollouts; quick keeps its own size", () => {
    const full = organismStudy("v2").adjust(PROFILES.full);
    assert.deepEqual(
      [
        full.steps,
        full.rollout.prompts_per_step,
        full.rollout.group_size,
        full.rollout.max_new_tokens,
        full.lr,
      ],
      [96, 16, 8, 192, 1e-4],
    );
    const quick = organismStudy("v2").adjust(PROFILES.quick);
    assert.deepEqual(
      [quick.steps, quick.rollout.prompts_per_step, quick.rollout.max_new_tokens],
      [PROFILES.quick.steps, PROFILES.quick.rollout.prompts_per_step, 192],
    );
    // The profiles themselves are not modified.
    assert.equal(PROFILES.full.steps, 48);
  });

  test("v1 keeps the profiles as they are, and an unknown organism is an error naming the valid ones", () => {
    assert.deepEqual(organismStudy("v1").adjust(PROFILES.full), PROFILES.full);
    assert.throws(() => organismStudy("v3"), /--organism: unknown organism "v3" \(valid: v1, v2\)/);
  });
});
