// Hugging Face style config.json for Qwen2/Llama-family decoders, validated with a schema.
// Only the fields the engine uses are required; unknown fields of real configs are kept as-is.

import { z } from "zod";

const positiveInt = z.number().int().positive();

export const ModelConfigSchema = z
  .object({
    model_type: z.string().default("qwen2"),
    architectures: z.array(z.string()).default(["Qwen2ForCausalLM"]),
    vocab_size: positiveInt,
    hidden_size: positiveInt,
    intermediate_size: positiveInt,
    num_hidden_layers: positiveInt,
    num_attention_heads: positiveInt,
    num_key_value_heads: positiveInt.optional(),
    head_dim: positiveInt.optional(),
    max_position_embeddings: positiveInt.default(2048),
    rms_norm_eps: z.number().positive().default(1e-6),
    rope_theta: z.number().positive().default(10000),
    tie_word_embeddings: z.boolean().default(false),
    hidden_act: z.literal("silu").default("silu"),
    /** Qwen2 has biases on q/k/v; Llama has none. */
    attention_bias: z.boolean().optional(),
    initializer_range: z.number().positive().default(0.02),
    bos_token_id: z.number().int().nullable().optional(),
    eos_token_id: z
      .union([z.number().int(), z.array(z.number().int())])
      .nullable()
      .optional(),
    pad_token_id: z.number().int().nullable().optional(),
    torch_dtype: z.string().optional(),
  })
  .passthrough();

export type ModelConfig = z.output<typeof ModelConfigSchema>;

/** Derived sizes that every layer needs. */
export interface Dims {
  d: number;
  Hq: number;
  Hkv: number;
  D: number;
  ff: number;
  V: number;
  L: number;
  qkvBias: boolean;
}

export function parseModelConfig(raw: unknown, source = "config.json"): ModelConfig {
  const r = ModelConfigSchema.safeParse(raw);
  if (!r.success) {
    const msgs = r.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
    throw new Error(`invalid model config ${source}: ${msgs.join("; ")}`);
  }
  const c = r.data;
  const dims = dimsOf(c);
  if (dims.Hq % dims.Hkv !== 0)
    throw new Error(
      `invalid model config ${source}: num_attention_heads must be a multiple of num_key_value_heads`,
    );
  if (dims.D % 2 !== 0)
    throw new Error(`invalid model config ${source}: head dimension must be even for rotary`);
  if (c.head_dim === undefined && c.hidden_size % c.num_attention_heads !== 0)
    throw new Error(`invalid model config ${source}: hidden_size must divide by num_attention_heads`);
  return c;
}

export function dimsOf(c: ModelConfig): Dims {
  return {
    d: c.hidden_size,
    Hq: c.num_attention_heads,
    Hkv: c.num_key_value_heads ?? c.num_attention_heads,
    D: c.head_dim ?? c.hidden_size / c.num_attention_heads,
    ff: c.intermediate_size,
    V: c.vocab_size,
    L: c.num_hidden_layers,
    qkvBias: c.attention_bias ?? c.model_type === "qwen2",
  };
}

/** Hugging Face tensor names and shapes of every parameter, in a stable order. */
export function parameterShapes(c: ModelConfig): [string, number[]][] {
  const { d, Hq, Hkv, D, ff, V, L, qkvBias } = dimsOf(c);
  const out: [string, number[]][] = [["model.embed_tokens.weight", [V, d]]];
  for (let l = 0; l < L; l++) {
    const p = `model.layers.${l}`;
    out.push([`${p}.input_layernorm.weight`, [d]]);
    out.push([`${p}.self_attn.q_proj.weight`, [Hq * D, d]]);
    if (qkvBias) out.push([`${p}.self_attn.q_proj.bias`, [Hq * D]]);
    out.push([`${p}.self_attn.k_proj.weight`, [Hkv * D, d]]);
    if (qkvBias) out.push([`${p}.self_attn.k_proj.bias`, [Hkv * D]]);
    out.push([`${p}.self_attn.v_proj.weight`, [Hkv * D, d]]);
    if (qkvBias) out.push([`${p}.self_attn.v_proj.bias`, [Hkv * D]]);
    out.push([`${p}.self_attn.o_proj.weight`, [d, Hq * D]]);
    out.push([`${p}.post_attention_layernorm.weight`, [d]]);
    out.push([`${p}.mlp.gate_proj.weight`, [ff, d]]);
    out.push([`${p}.mlp.up_proj.weight`, [ff, d]]);
    out.push([`${p}.mlp.down_proj.weight`, [d, ff]]);
  }
  out.push(["model.norm.weight", [d]]);
  if (!c.tie_word_embeddings) out.push(["lm_head.weight", [V, d]]);
  return out;
}
