// The op interface every compute backend implements (CPU today, WebGPU next).
//
// A backend owns storage (flat float buffers) and runs kernels on it. Kernels take storages,
// never JS arrays, and never return data: reading back is an explicit (possibly async) call.
// This keeps model and autodiff code free of CPU-only assumptions: a GPU backend can keep
// every buffer on the device and only `read` crosses the boundary.

import type { RouteTable } from "./routes.ts";

export type DType = "f32" | "f64";
export type FloatArray = Float32Array | Float64Array;

/** Opaque handle to a backend buffer of `size` floats. */
export interface Storage {
  readonly size: number;
}

export type UnaryOp = "neg" | "exp" | "log" | "square" | "sqrt" | "relu" | "sigmoid" | "silu" | "abs";
export type BinaryOp = "add" | "sub" | "mul" | "div" | "min" | "max";

/** Shapes of a grouped-query attention call. Layouts are row-major:
 *  q/out [B, Tq, Hq, D]; k/v [B, Tk, Hkv, D] (Tk = cache capacity for decoding).
 *  Query i of sequence b sits at absolute position pos0[b] + i and attends to keys 0..that position. */
export interface AttentionShape {
  B: number;
  Tq: number;
  Tk: number;
  Hq: number;
  Hkv: number;
  D: number;
}

/** A matrix product C[M,N] = (accumulate ? C : 0) + op(A) op(B): op(A) is [M,K], stored [M,K], or
 *  [K,M] when transA; op(B) is [K,N], stored [K,N], or [N,K] when transB. Flags default to false. */
export interface MatmulShape {
  M: number;
  N: number;
  K: number;
  transA?: boolean;
  transB?: boolean;
  accumulate?: boolean;
}

/** Rotary embedding over [rows, H, D] with one position per row, base `theta`, optionally
 *  Llama 3 frequency scaling. inverse rotates by -angle (the backward pass). */
export interface RopeShape {
  rows: number;
  H: number;
  D: number;
  theta: number;
  scaling?: RopeScaling;
  inverse?: boolean;
}

/** Llama 3 scaling of the rotary inverse frequencies (transformers' rope_type "llama3"). */
export interface RopeScaling {
  factor: number;
  lowFreqFactor: number;
  highFreqFactor: number;
  originalMaxPositions: number;
}

/** The buffers of the attention backward: gradients accumulated into (dq, dk, dv), the incoming
 *  gradient dOut, and what the forward saw and saved (q, k, v, out, lse). */
export interface AttentionGrads<S> {
  dq: S;
  dk: S;
  dv: S;
  dOut: S;
  q: S;
  k: S;
  v: S;
  out: S;
  lse: S;
}

/** One AdamW update's hyperparameters; `step` counts from 1 (bias correction). */
export interface AdamWStep {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  step: number;
}

/** One decoder layer's weights (Qwen2 family; Hugging Face layouts, linear weights [out, in]). */
export interface DecoderLayerWeights<S> {
  inputNorm: S;
  q: S;
  qBias: S | null;
  k: S;
  kBias: S | null;
  v: S;
  vBias: S | null;
  o: S;
  postNorm: S;
  gate: S;
  up: S;
  down: S;
}

/** A model and its KV cache, as a backend's fused decoder takes them (see Backend.decode). */
export interface DecoderPlan<S> {
  dims: { d: number; Hq: number; Hkv: number; D: number; ff: number; V: number };
  eps: number;
  theta: number;
  /** Llama 3 rotary frequency scaling (RopeShape.scaling). */
  scaling?: RopeScaling;
  embed: S;
  layers: DecoderLayerWeights<S>[];
  norm: S;
  head: S;
  /** [B, capacity, Hkv, D] per layer, holding each prompt's keys and values (the prefill). */
  cacheK: S[];
  cacheV: S[];
  B: number;
  capacity: number;
}

/** How to continue B prompts whose prefill is done: plain sampling at `temperature` (0: greedy)
 *  with draws from the splitmix32 state `rngState` (engine/random.ts), one per running sequence
 *  per step in sequence order, as model/sample.ts draws them. */
export interface DecodeRequest<S> {
  /** The prefill's logits; row rows[b] is sequence b's last prompt position. */
  logits: S;
  rows: Int32Array;
  /** Position of each sequence's first generated token (its prompt length). */
  positions: Int32Array;
  /** Tokens each sequence may draw (>= 0), at most maxNewTokens. */
  limits: Int32Array;
  maxNewTokens: number;
  temperature: number;
  stopTokens: readonly number[];
  rngState: number;
}

/** Per sequence: the tokens drawn (with the stop token that ended it, if one did) and the
 *  statistics of the distribution each was drawn from; and the RNG state after the last draw. */
export interface DecodeResult {
  tokens: Int32Array[];
  stopped: boolean[];
  logp: Float32Array[];
  entropy: Float32Array[];
  selfCertainty: Float32Array[];
  rngState: number;
}

export interface Backend<S extends Storage = Storage> {
  readonly name: string;
  readonly dtype: DType;
  /** Where each op runs (kernel, condition), for `rlif info --backend`. */
  readonly routes?: RouteTable;

  // --- storage ---
  alloc(size: number): S; // zero-filled
  free(s: S): void;
  write(s: S, data: ArrayLike<number>, offset?: number): void;
  read(s: S): Promise<FloatArray>;
  /** Synchronous read where the backend can do it (CPU); GPU backends throw. */
  readSync(s: S): FloatArray;
  /** Copy `n` floats from src[srcOff..] to dst[dstOff..]. */
  copy(dst: S, src: S, n?: number, dstOff?: number, srcOff?: number): void;
  fill(s: S, value: number): void;

  // --- elementwise (a and b of equal size, or b of size 1 as a broadcast scalar) ---
  unary(op: UnaryOp, out: S, a: S): void;
  /** out += dOut * d op(a)/da (uses a, and y = op(a) where cheaper). */
  unaryBackward(op: UnaryOp, dA: S, a: S, y: S, dOut: S): void;
  binary(op: BinaryOp, out: S, a: S, b: S): void;
  /** Accumulates the gradients of a binary op into dA and/or dB (either may be null). */
  binaryBackward(op: BinaryOp, dA: S | null, dB: S | null, a: S, b: S, dOut: S): void;
  /** out = clamp(a, lo, hi); backward passes gradient where lo < a < hi. */
  clamp(out: S, a: S, lo: number, hi: number): void;
  clampBackward(dA: S, a: S, lo: number, hi: number, dOut: S): void;
  /** out = a * s + t */
  affine(out: S, a: S, s: number, t: number): void;
  /** y += alpha * x */
  axpy(y: S, x: S, alpha: number): void;
  /** out[0] = sum(a); or per row: out[r] = sum_c a[r, c] when cols given. */
  sum(out: S, a: S, rows?: number, cols?: number): void;
  /** out[c] += sum_r a[r, c] (bias gradients). */
  sumRowsAcc(out: S, a: S, rows: number, cols: number): void;
  /** out[r, c] = a[r, c] + bias[c] */
  addRowVector(out: S, a: S, bias: S, rows: number, cols: number): void;
  /** out[r, c] = a[r, c] (+)= broadcast of s[r] along c: used by sum/mean backward over rows. */
  broadcastRows(out: S, s: S, rows: number, cols: number, accumulate: boolean): void;
  sumSquares(a: S): number;

  // --- linear algebra ---
  /** C[M,N] = (accumulate ? C : 0) + op(A) op(B) (see MatmulShape). */
  matmul(C: S, A: S, B: S, shape: MatmulShape): void;

  // --- transformer layers ---
  embedding(out: S, table: S, ids: Int32Array, dim: number): void;
  embeddingBackward(dTable: S, ids: Int32Array, dOut: S, dim: number): void;
  /** y = x * rstd * w per row of `dim`; rstd saved for backward. */
  rmsnorm(y: S, rstd: S, x: S, w: S, rows: number, dim: number, eps: number): void;
  rmsnormBackward(dx: S, dw: S, dy: S, x: S, w: S, rstd: S, rows: number, dim: number): void;
  /** Rotary embedding (Hugging Face rotate_half layout), positions[r] for row r (see RopeShape). */
  rope(out: S, x: S, positions: Int32Array, shape: RopeShape): void;
  /** out = attention; lse [B, Hq, Tq] saved for backward. */
  attention(out: S, lse: S, q: S, k: S, v: S, shape: AttentionShape, pos0: Int32Array, scale: number): void;
  /** Training case only (pos0 = 0, Tq = Tk). Accumulates into dq, dk, dv. */
  attentionBackward(grads: AttentionGrads<S>, shape: AttentionShape, scale: number): void;
  /** out = silu(gate) * up */
  swiglu(out: S, gate: S, up: S): void;
  swigluBackward(dGate: S, dUp: S, gate: S, up: S, dOut: S): void;

  // --- vocabulary-wide statistics, one fused pass per row ---
  /** For each row r of logits [N, V]: out[r] = (log p(target), entropy H, self-certainty KL(U||p)),
   *  and lse[r] = logsumexp. targets[r] < 0 gives log p = 0 (ignored position). */
  tokenStats(out: S, lse: S, logits: S, targets: Int32Array, N: number, V: number): void;
  /** dLogits += d(out)/d(logits) · dOut, with dOut [N, 3]. */
  tokenStatsBackward(dLogits: S, dOut: S, logits: S, lse: S, targets: Int32Array, N: number, V: number): void;

  // --- decoding ---
  /** Optional: the whole sampling loop after the prefill, fused (model/sample.ts). Returns null,
   *  having done nothing, where the backend does not take this model or request; the sampler
   *  then runs the model op by op and draws in TypeScript, with the same result. */
  decode?(plan: DecoderPlan<S>, request: DecodeRequest<S>): DecodeResult | null;

  // --- optimiser ---
  /** One AdamW step on param, with its moment estimates m and v updated in place. */
  adamw(param: S, grad: S, m: S, v: S, hp: AdamWStep): void;
}
