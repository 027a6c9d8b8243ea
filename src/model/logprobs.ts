// Per-token log-probabilities of given targets under a model: the one forward pass behind the
// policy update, the frozen reference policy and the next-token loss.

import * as op from "../engine/ops.ts";
import { noGrad, type Tensor, tidy } from "../engine/tensor.ts";
import type { Transformer } from "./transformer.ts";

/** A right-padded batch [B, T]; targets[b*T + t] is the token predicted at position t (-1: none). */
export interface TargetBatch {
  ids: Int32Array;
  targets: Int32Array;
  B: number;
  T: number;
}

export interface SequenceLogprobs {
  /** [B*T] log p(target) at each position (0 where the target is -1). Differentiable. */
  logp: Tensor;
  /** [B*T] entropy of the full distribution at each position. Differentiable. */
  entropy: Tensor;
}

/**
 * log p and entropy of the distribution softmax(logits / temperature), the distribution the
 * rollouts were sampled from. Temperature 1 skips the scaling (x * 1 is x, bit for bit).
 */
export function sequenceLogprobs(model: Transformer, batch: TargetBatch, temperature = 1): SequenceLogprobs {
  const logits = model.forward(batch.ids, batch.B, batch.T);
  const z = temperature === 1 ? logits : op.scale(logits, 1 / temperature);
  const stats = op.tokenStats(z, batch.targets);
  return { logp: op.column(stats, 0), entropy: op.column(stats, 1) };
}

/** log p of the targets as plain numbers, without a graph: a frozen (reference) policy. */
export async function frozenLogprobs(
  model: Transformer,
  batch: TargetBatch,
  temperature = 1,
): Promise<Float32Array> {
  const logp = noGrad(() => tidy(() => sequenceLogprobs(model, batch, temperature).logp));
  try {
    return Float32Array.from(await logp.read());
  } finally {
    logp.dispose();
  }
}
