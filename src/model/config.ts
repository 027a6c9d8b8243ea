// Hugging Face config.json of the decoder families rlif runs (model_type qwen2, qwen3, llama),
// validated with a schema. Only the fields the engine uses are required; unknown fields of real
// configs are kept as-is. Anything that would change the equations but is not implemented (another
// family, sliding-window attention, MLP biases, a rope_scaling other than llama3) is refused here,
// naming the field, rather than run with the wrong equations.

import { z } from "zod";
import type { RopeScaling } from "../engine/backend.ts";

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
    /** Llama 3.x frequency scaling of rotary embedding; null or absent for plain RoPE. */
    rope_scaling: z
      .object({
        rope_type: z.string().optional(),
        type: z.string().optional(),
        factor: z.number().positive().optional(),
        low_freq_factor: z.number().positive().optional(),
        high_freq_factor: z.number().positive().optional(),
        original_max_position_embeddings: positiveInt.optional(),
      })
      .passthrough()
      .nullable()
      .optional(),
    /** Qwen2 configs carry these; rlif runs full attention only. */
    use_sliding_window: z.boolean().optional(),
    mlp_bias: z.boolean().optional(),
  })
  .passthrough();

/** The model_type values rlif implements, with the equations that differ between them. */
export const FAMILIES = ["qwen2", "qwen3", "llama"] as const;
export type Family = (typeof FAMILIES)[number];

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
  /** Qwen3: RMSNorm over each query and key head (weights [D]) before rotary embedding. */
  qkNorm: boolean;
}

export function parseModelConfig(raw: unknown, source = "config.json"): ModelConfig {
  const r = ModelConfigSchema.safeParse(withRopeParameters(raw));
  if (!r.success) {
    const msgs = r.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
    throw new Error(`invalid model config ${source}: ${msgs.join("; ")}`);
  }
  const c = r.data;
  const bad = (field: string, msg: string): never => {
    throw new Error(`unsupported model config ${source}: ${field}: ${msg}`);
  };
  if (!(FAMILIES as readonly string[]).includes(c.model_type))
    bad(
      "model_type",
      `"${c.model_type}" is not one of the families rlif implements (${FAMILIES.join(", ")})`,
    );
  if (c.use_sliding_window) bad("use_sliding_window", "sliding-window attention is not implemented");
  if (c.mlp_bias) bad("mlp_bias", "MLP biases are not implemented");
  ropeScalingOf(c, source);
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

/** Newer transformers write rotary settings as one `rope_parameters` object ({rope_type,
 *  rope_theta, factor, ...}); read it as rope_theta + rope_scaling, so its theta is never lost. */
function withRopeParameters(raw: unknown): unknown {
  if (typeof raw !== "object" || raw === null) return raw;
  const rp = (raw as { rope_parameters?: unknown }).rope_parameters;
  if (typeof rp !== "object" || rp === null || Array.isArray(rp)) return raw;
  const r = raw as Record<string, unknown>;
  const p = rp as Record<string, unknown>;
  const type = p.rope_type ?? p.type ?? "default";
  return {
    ...r,
    rope_theta: p.rope_theta ?? r.rope_theta,
    rope_scaling: r.rope_scaling ?? (type === "default" ? null : p),
  };
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
    qkNorm: c.model_type === "qwen3",
  };
}

/** The config's rotary scaling, if any; types other than llama3 (and "default") are refused. */
export function ropeScalingOf(c: ModelConfig, source = "config.json"): RopeScaling | undefined {
  const s = c.rope_scaling;
  if (!s) return undefined;
  const type = s.rope_type ?? s.type ?? "default";
  if (type === "default") return undefined;
  if (type !== "llama3")
    throw new Error(
      `unsupported model config ${source}: rope_scaling: type "${type}" is not implemented (only llama3)`,
    );
  const need = (
    k: "factor" | "low_freq_factor" | "high_freq_factor" | "original_max_position_embeddings",
  ) => {
    const v = s[k];
    if (v === undefined)
      throw new Error(`invalid model config ${source}: rope_scaling.${k} is required for llama3`);
    return v;
  };
  return {
    factor: need("factor"),
    lowFreqFactor: need("low_freq_factor"),
    highFreqFactor: need("high_freq_factor"),
    originalMaxPositions: need("original_max_position_embeddings"),
  };
}

/** Hugging Face tensor names and shapes of every parameter, in a stable order. */
export function parameterShapes(c: ModelConfig): [string, number[]][] {
  const { d, Hq, Hkv, D, ff, V, L, qkvBias, qkNorm } = dimsOf(c);
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
    if (qkNorm) {
      out.push([`${p}.self_attn.q_norm.weight`, [D]]);
      out.push([`${p}.self_attn.k_norm.weight`, [D]]);
    }
    out.push([`${p}.post_attention_layernorm.weight`, [d]]);
    out.push([`${p}.mlp.gate_proj.weight`, [ff, d]]);
    out.push([`${p}.mlp.up_proj.weight`, [ff, d]]);
    out.push([`${p}.mlp.down_proj.weight`, [d, ff]]);
  }
  out.push(["model.norm.weight", [d]]);
  if (!c.tie_word_embeddings) out.push(["lm_head.weight", [V, d]]);
  return out;
}
