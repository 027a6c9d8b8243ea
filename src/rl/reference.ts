// The frozen reference policy's log-probabilities of the rollouts' response tokens, for a KL
// term in the reward (rl/score.ts) or in the loss (rl/optimize.ts). The reference does not move,
// so each rollout is scored once per step, in batches, and every update reuses the values.

import { frozenLogprobs } from "../model/logprobs.ts";
import type { Transformer } from "../model/transformer.ts";
import { packRollouts, type Rollout } from "./rollout.ts";

/** Logits one reference pass may hold (floats): sequences are batched up to this. */
const REFERENCE_LOGITS = 1 << 24;

/**
 * log π_ref of each rollout's response tokens, in batches of as many sequences as fit `budget`
 * logits. A sequence's values do not depend on its batch (every kernel of the forward
 * pass works row by row; test/rl-reference.test.ts), so this equals scoring them one at a time,
 * in fewer and larger passes.
 */
export async function referenceLogprobs(
  ref: Transformer,
  rollouts: readonly Rollout[],
  temperature: number,
  pad: number,
  budget = REFERENCE_LOGITS,
): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  const V = ref.dims.V;
  const len = (r: Rollout) => r.promptIds.length + Math.max(1, r.responseIds.length);
  for (let i = 0; i < rollouts.length; ) {
    let j = i + 1;
    let T = len(rollouts[i]);
    while (j < rollouts.length && (j + 1 - i) * Math.max(T, len(rollouts[j])) * V <= budget)
      T = Math.max(T, len(rollouts[j++]));
    const batch = rollouts.slice(i, j);
    const packed = packRollouts(batch, pad);
    const lp = await frozenLogprobs(ref, packed, temperature);
    batch.forEach((r, b) => {
      const at = b * packed.T + r.promptIds.length - 1;
      out.push(Float32Array.from(r.responseIds, (_, k) => lp[at + k]));
    });
    i = j;
  }
  return out;
}

/** Each rollout's reference log-probs: computed for those that have none yet, then kept on the
 *  rollout (Rollout.refLogp), so that later updates of the step reuse them. */
export async function withReference(
  ref: Transformer,
  rollouts: readonly Rollout[],
  temperature: number,
  pad: number,
): Promise<Float32Array[]> {
  const missing = rollouts.filter((r) => !r.refLogp);
  const lp = await referenceLogprobs(ref, missing, temperature, pad);
  missing.forEach((r, i) => {
    r.refLogp = lp[i];
  });
  return rollouts.map((r) => r.refLogp as Float32Array);
}
