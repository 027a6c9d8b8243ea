// A language model and data small enough for training-loop tests: a step takes milliseconds.

import { parseModelConfig } from "../../src/model/config.ts";
import type { Transformer } from "../../src/model/transformer.ts";
import type { BatchSource } from "../../src/train/lm.ts";

export const tinyLmConfig = parseModelConfig({
  vocab_size: 9,
  hidden_size: 8,
  intermediate_size: 12,
  num_hidden_layers: 1,
  num_attention_heads: 2,
  max_position_embeddings: 16,
});

/** Batches as a pure function of the step, as the real sources are. */
export const tinyLmData: BatchSource = {
  batchAt(step) {
    const B = 2;
    const T = 6;
    const ids = new Int32Array(B * T).map((_, i) => (i * 3 + step) % 9);
    return { ids, weights: new Float32Array(B * T).fill(1), B, T };
  },
};

/** trainLm options of an 8-step run checkpointed every 3 steps into outDir. */
export const tinyLmOptions = (outDir: string) => ({
  steps: 8,
  lr: 1e-2,
  warmupSteps: 2,
  minLrRatio: 0.1,
  weightDecay: 0.01,
  gradClip: 1,
  checkpointEvery: 3,
  logEvery: 1,
  outDir,
});

export function weights(m: Transformer): number[] {
  return [...m.parameters().values()].flatMap((t) => t.toArray());
}
