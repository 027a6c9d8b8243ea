// Next-token cross-entropy for pretraining and SFT.

import * as op from "../engine/ops.ts";
import type { Tensor } from "../engine/tensor.ts";
import { sequenceLogprobs } from "./logprobs.ts";
import type { Transformer } from "./transformer.ts";

/**
 * Mean cross-entropy of predicting ids[t+1] from ids[..t] over a right-padded batch [B, T].
 * `weights[b*T + t]` (default 1) weights the prediction *of* token t+1; positions with weight 0
 * (padding, prompt tokens in SFT) are ignored. Returns the scalar loss.
 */
export function nextTokenLoss(
  model: Transformer,
  ids: Int32Array,
  B: number,
  T: number,
  weights?: Float32Array,
): { loss: Tensor; tokens: number } {
  const targets = new Int32Array(B * T).fill(-1);
  const w = new Float32Array(B * T);
  let count = 0;
  for (let b = 0; b < B; b++)
    for (let t = 0; t < T - 1; t++) {
      const i = b * T + t;
      const wi = weights ? weights[i] : 1;
      if (wi === 0) continue;
      targets[i] = ids[i + 1];
      w[i] = wi;
      count += wi;
    }
  if (count === 0) throw new Error("nextTokenLoss: no target tokens in the batch");
  const { logp } = sequenceLogprobs(model, { ids, targets, B, T });
  const loss = op.scale(op.sum(op.mul(logp, op.constant(w, [B * T], logp))), -1 / count);
  return { loss, tokens: count };
}
