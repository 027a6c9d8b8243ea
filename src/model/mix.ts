// Weight mixing (rlif-spec.md): θ(α) = (1 − α)·θ_base + α·θ_instruct, parameter by parameter.

import { Transformer } from "./transformer.ts";

export async function mixModels(
  base: Transformer,
  instruct: Transformer,
  alpha: number,
): Promise<Transformer> {
  if (!(alpha >= 0 && alpha <= 1)) throw new Error(`alpha must be in [0, 1], got ${alpha}`);
  const a = base.config;
  const b = instruct.config;
  for (const k of [
    "vocab_size",
    "hidden_size",
    "intermediate_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "tie_word_embeddings",
  ] as const)
    if (a[k] !== b[k]) throw new Error(`cannot mix: ${k} differs (${a[k]} vs ${b[k]})`);
  const weights = new Map<string, { shape: readonly number[]; data: Float32Array }>();
  const pb = instruct.parameters();
  for (const [name, t] of base.parameters()) {
    const u = pb.get(name);
    if (!u) throw new Error(`cannot mix: instruct model lacks ${name}`);
    const x = await t.read();
    const y = await u.read();
    const out = new Float32Array(t.size);
    for (let i = 0; i < out.length; i++) out[i] = (1 - alpha) * x[i] + alpha * y[i];
    weights.set(name, { shape: t.shape, data: out });
  }
  return Transformer.fromWeights(base.config, weights);
}
