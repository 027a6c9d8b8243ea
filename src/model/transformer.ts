// A Qwen2 / Qwen3 / Llama-family decoder built from the engine's ops, nanoGPT-style: the whole
// forward pass is in this file. Parameters carry Hugging Face names so checkpoints move to and from
// PyTorch. The families differ only in q/k/v biases (Qwen2), per-head q/k RMSNorm (Qwen3) and
// rotary frequency scaling (Llama 3); all three are read from config.json.

import type { DecoderPlan, RopeScaling, Storage } from "../engine/backend.ts";
import * as op from "../engine/ops.ts";
import { Random } from "../engine/random.ts";
import { isGradEnabled, noGrad, parameter, Tensor, tidy } from "../engine/tensor.ts";
import { type Dims, dimsOf, type ModelConfig, parameterShapes, ropeScalingOf } from "./config.ts";

export interface WeightSource {
  shape: readonly number[];
  data: ArrayLike<number>;
}

/** Named weights: a Map, or a reader that loads each tensor only when asked (sharded files). */
export interface WeightLookup {
  get(name: string): WeightSource | undefined;
}

/** Keys and values of every layer for incremental decoding: [B, capacity, Hkv, D] per layer.
 *  Untracked by tidy scopes so a cache outlives the step that made it; free it with dispose(). */
export class KVCache {
  readonly k: Tensor[] = [];
  readonly v: Tensor[] = [];
  constructor(
    model: Transformer,
    readonly B: number,
    readonly capacity: number,
  ) {
    const { Hkv, D, L } = model.dims;
    const backend = model.embed.backend;
    for (let l = 0; l < L; l++) {
      this.k.push(new Tensor([B, capacity, Hkv, D], { backend, track: false }));
      this.v.push(new Tensor([B, capacity, Hkv, D], { backend, track: false }));
    }
  }
  dispose(): void {
    for (const t of [...this.k, ...this.v]) t.dispose();
  }
}

export class Transformer {
  readonly config: ModelConfig;
  readonly dims: Dims;
  private readonly ropeScaling: RopeScaling | undefined;
  private readonly params = new Map<string, Tensor>();

  private constructor(config: ModelConfig) {
    this.config = config;
    this.dims = dimsOf(config);
    this.ropeScaling = ropeScalingOf(config);
  }

  /** Fresh weights as Hugging Face initialises them: N(0, initializer_range), norms 1, biases 0. */
  static init(config: ModelConfig, seed = 0): Transformer {
    const m = new Transformer(config);
    const rng = new Random(seed);
    const std = config.initializer_range;
    for (const [name, shape] of parameterShapes(config)) {
      const n = shape.reduce((a, b) => a * b, 1);
      const v = new Float32Array(n);
      if (name.endsWith("norm.weight")) v.fill(1);
      else if (!name.endsWith(".bias")) for (let i = 0; i < n; i++) v[i] = std * rng.normal();
      m.params.set(name, parameter(shape, v, name));
    }
    return m;
  }

  /** Build from named weights (e.g. a safetensors file), one tensor at a time. Missing or
   *  mis-shaped tensors are errors; extra ones (such as a tied lm_head) are ignored. */
  static fromWeights(config: ModelConfig, weights: WeightLookup): Transformer {
    const m = new Transformer(config);
    for (const [name, shape] of parameterShapes(config)) {
      const w = weights.get(name);
      if (!w) throw new Error(`checkpoint lacks tensor ${name}`);
      if (w.shape.length !== shape.length || w.shape.some((s, i) => s !== shape[i]))
        throw new Error(`tensor ${name} has shape [${w.shape}], config expects [${shape}]`);
      m.params.set(name, parameter(shape, w.data, name));
    }
    return m;
  }

  parameters(): Map<string, Tensor> {
    return this.params;
  }

  /** Frees the weights and their gradients. A backend's memory is not garbage-collected: a
   *  process that loads many models (a study: every run, checkpoint and reference) frees each. */
  dispose(): void {
    for (const t of this.params.values()) t.dispose();
  }

  /** Frees the gradient buffers (training is over; the next backward pass makes new ones). */
  dropGradients(): void {
    for (const t of this.params.values()) {
      t.grad?.dispose();
      t.grad = null;
    }
  }

  numParameters(): number {
    let n = 0;
    for (const t of this.params.values()) n += t.size;
    return n;
  }

  p(name: string): Tensor {
    const t = this.params.get(name);
    if (!t) throw new Error(`no parameter ${name}`);
    return t;
  }

  get embed(): Tensor {
    return this.p("model.embed_tokens.weight");
  }

  private bias(name: string): Tensor | null {
    return this.dims.qkvBias ? this.p(name) : null;
  }

  /** Logits [B*T, V] for token ids [B*T] (row-major, right-padded); positions 0..T-1. */
  forward(ids: Int32Array, B: number, T: number): Tensor {
    if (ids.length !== B * T) throw new Error(`forward: ${ids.length} ids for B=${B}, T=${T}`);
    const positions = new Int32Array(B * T);
    for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) positions[b * T + t] = t;
    return this.run(ids, positions, B, T, null, null);
  }

  /** Incremental forward for sampling: ids [B*Tq], sequence b's first new token sits at pos0[b].
   *  Writes keys/values into the cache and attends to everything before each position. With
   *  `rows` (indices into the B*Tq positions), logits only for those rows: a prompt pass then needs
   *  one vocabulary-sized row per sequence, not one per prompt token. */
  forwardCached(
    ids: Int32Array,
    B: number,
    Tq: number,
    cache: KVCache,
    pos0: Int32Array,
    rows?: Int32Array,
  ): Tensor {
    if (cache.B !== B) throw new Error(`cache holds ${cache.B} sequences, got ${B}`);
    for (let b = 0; b < B; b++)
      if (pos0[b] + Tq > cache.capacity)
        throw new Error(`sequence ${b} exceeds the cache (${cache.capacity})`);
    const positions = new Int32Array(B * Tq);
    for (let b = 0; b < B; b++) for (let t = 0; t < Tq; t++) positions[b * Tq + t] = pos0[b] + t;
    return noGrad(() => this.run(ids, positions, B, Tq, cache, pos0, rows));
  }

  private run(
    ids: Int32Array,
    positions: Int32Array,
    B: number,
    T: number,
    cache: KVCache | null,
    pos0: Int32Array | null,
    rows?: Int32Array,
  ): Tensor {
    const { d, Hq, Hkv, D, L } = this.dims;
    const eps = this.config.rms_norm_eps;
    const theta = this.config.rope_theta;
    const sc = this.ropeScaling;
    const N = B * T;
    let x = op.embedding(ids, this.embed);
    for (let l = 0; l < L; l++) {
      const p = `model.layers.${l}`;
      const w = (name: string) => this.p(`${p}.${name}`);
      const proj = (h: Tensor, name: string) =>
        op.linear(h, w(`${name}.weight`), this.bias(`${p}.${name}.bias`));
      // --- attention block ---
      x = this.block(x, (x) => {
        const h = op.rmsnorm(x, w("input_layernorm.weight"), eps);
        const q = proj(h, "self_attn.q_proj");
        const k = proj(h, "self_attn.k_proj");
        const v = proj(h, "self_attn.v_proj");
        const qr = op.rope(this.headNorm(q, `${p}.self_attn.q_norm.weight`, N, Hq), positions, theta, sc);
        const kr = op.rope(this.headNorm(k, `${p}.self_attn.k_norm.weight`, N, Hkv), positions, theta, sc);
        const a = cache
          ? this.cachedAttention(qr, kr, v, cache, l, B, T, pos0!)
          : op.attention(qr, kr, v.reshape([N, Hkv, D]), B, T);
        return op.add(x, op.linear(a.reshape([N, Hq * D]), w("self_attn.o_proj.weight")));
      });
      // --- MLP block ---
      x = this.block(x, (x) => {
        const h2 = op.rmsnorm(x, w("post_attention_layernorm.weight"), eps);
        const gate = op.linear(h2, w("mlp.gate_proj.weight"));
        const up = op.linear(h2, w("mlp.up_proj.weight"));
        return op.add(x, op.linear(op.swiglu(gate, up), w("mlp.down_proj.weight")));
      });
    }
    x = op.rmsnorm(x, this.p("model.norm.weight"), eps);
    const head = this.config.tie_word_embeddings ? this.embed : this.p("lm_head.weight");
    // Gathering rows is a table lookup: the embedding op over the hidden states (no autodiff here).
    const out = rows ? op.embedding(rows, x.reshape([N, d])) : x.reshape([N, d]);
    return op.linear(out, head);
  }

  /** One residual block x -> f(x). Without autodiff nothing reads a block's activations once
   *  it is done: it runs in its own scope and its input is freed, so a pass holds one block's
   *  activations, not every layer's (a prefill of 128 prompts held ~1 GiB). With autodiff the
   *  backward pass needs them all. */
  private block(x: Tensor, f: (x: Tensor) => Tensor): Tensor {
    if (isGradEnabled()) return f(x);
    const y = tidy(() => f(x));
    x.dispose();
    return y;
  }

  /** [N, H*D] -> [N, H, D]; Qwen3 RMS-normalises each head (weight [D]) before rotary embedding. */
  private headNorm(x: Tensor, weight: string, N: number, H: number): Tensor {
    const { D, qkNorm } = this.dims;
    if (!qkNorm) return x.reshape([N, H, D]);
    return op.rmsnorm(x.reshape([N * H, D]), this.p(weight), this.config.rms_norm_eps).reshape([N, H, D]);
  }

  /** This model and a KV cache, as a backend's fused decoder takes them (Backend.decode); null
   *  for a family the fused decoder does not cover (Qwen3's per-head q/k norm). */
  decoderPlan(cache: KVCache): DecoderPlan<Storage> | null {
    const { d, Hq, Hkv, D, ff, V, L, qkNorm } = this.dims;
    if (qkNorm) return null;
    const w = (name: string) => this.p(name).storage;
    const bias = (name: string) => this.bias(name)?.storage ?? null;
    const layers = Array.from({ length: L }, (_, l) => {
      const p = `model.layers.${l}`;
      return {
        inputNorm: w(`${p}.input_layernorm.weight`),
        q: w(`${p}.self_attn.q_proj.weight`),
        qBias: bias(`${p}.self_attn.q_proj.bias`),
        k: w(`${p}.self_attn.k_proj.weight`),
        kBias: bias(`${p}.self_attn.k_proj.bias`),
        v: w(`${p}.self_attn.v_proj.weight`),
        vBias: bias(`${p}.self_attn.v_proj.bias`),
        o: w(`${p}.self_attn.o_proj.weight`),
        postNorm: w(`${p}.post_attention_layernorm.weight`),
        gate: w(`${p}.mlp.gate_proj.weight`),
        up: w(`${p}.mlp.up_proj.weight`),
        down: w(`${p}.mlp.down_proj.weight`),
      };
    });
    return {
      dims: { d, Hq, Hkv, D, ff, V },
      eps: this.config.rms_norm_eps,
      theta: this.config.rope_theta,
      scaling: this.ropeScaling,
      embed: this.embed.storage,
      layers,
      norm: w("model.norm.weight"),
      head: this.config.tie_word_embeddings ? this.embed.storage : w("lm_head.weight"),
      cacheK: cache.k.map((t) => t.storage),
      cacheV: cache.v.map((t) => t.storage),
      B: cache.B,
      capacity: cache.capacity,
    };
  }

  /** Append this step's keys/values to the cache, then attend over it (no autodiff: sampling only). */
  private cachedAttention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    cache: KVCache,
    l: number,
    B: number,
    T: number,
    pos0: Int32Array,
  ): Tensor {
    const { Hq, Hkv, D } = this.dims;
    const be = q.backend;
    const row = Hkv * D;
    const ck: Storage = cache.k[l].storage;
    const cv: Storage = cache.v[l].storage;
    for (let b = 0; b < B; b++) {
      const dst = (b * cache.capacity + pos0[b]) * row;
      be.copy(ck, k.storage, T * row, dst, b * T * row);
      be.copy(cv, v.storage, T * row, dst, b * T * row);
    }
    const res = new Tensor([B * T, Hq, D], { backend: be });
    const lse = new Tensor([B, Hq, T], { backend: be });
    be.attention(
      res.storage,
      lse.storage,
      q.storage,
      ck,
      cv,
      { B, Tq: T, Tk: cache.capacity, Hq, Hkv, D },
      pos0,
      1 / Math.sqrt(D),
    );
    lse.dispose();
    return res;
  }
}
