// Fused decoding for the sampler (model/sample.ts): one call per generated token runs, for a
// share of the still-running sequences, the whole Qwen2 decoder for one position (embedding,
// every layer with its KV-cache write and attention, the final norm and the head), then the
// sampling statistics (log p, entropy, self-certainty in float64) and the token draw. The pool
// splits the running sequences between the threads, so one decoding step is one round trip to
// the workers, with nothing done per sequence in JavaScript.
//
// Every stage calls the kernel the op-by-op path calls (matmul, on weights packed once per
// decode into the panels matmul packs on every call; rmsnormForward, rope,
// attentionDecode, ...) on this thread's rows: those kernels compute each row on its own, so the
// logits are bit for bit those of Transformer.forwardCached, and the statistics use V8's exp and
// log (fdlibm.ts) in the order distributionStats uses them: the tokens are those of the
// TypeScript path for the same seed, at any thread count.
//
// The host (wasm/decoder.ts) lays out two blocks of i32 words: the plan (dimensions and the
// weights' offsets, fixed for a decoder) and the state (per-sequence arrays, updated per step).
// Their field numbers below are mirrored in decoder.ts.

import { attentionDecode, attentionDecodeScratchBytes } from "./attention";
import { rmsnormForward, swigluForward } from "./elementwise";
import { fdExp, fdLog } from "./fdlibm";
import { matmulPacked, matmulScratchBytes, packWeights } from "./matmul";
import { addRowVector, binary, embedding, rope } from "./pointwise";

// Plan words.
const P_L = 0;
const P_DIM = 1;
const P_HQ = 2;
const P_HKV = 3;
const P_HEAD_DIM = 4;
const P_FF = 5;
const P_V = 6;
const P_CAPACITY = 7;
const P_EPS = 8; // f32
const P_SCALE = 9; // f32
const P_EMBED = 10;
const P_NORM = 11;
const P_HEAD = 12;
const P_COS = 13;
const P_SIN = 14;
const P_HEAD_PACKED = 15;
const P_LAYERS = 16;
const LAYER_WORDS = 24;
// Layer words (bias offsets are 0 when the model has none).
const L_NORM1 = 0;
const L_Q = 1;
const L_QB = 2;
const L_K = 3;
const L_KB = 4;
const L_V = 5;
const L_VB = 6;
const L_O = 7;
const L_NORM2 = 8;
const L_GATE = 9;
const L_UP = 10;
const L_DOWN = 11;
const L_KCACHE = 12;
const L_VCACHE = 13;
// Offsets of the packed copies (packWeights) of the seven matrices, in the order of WEIGHTS.
const L_PACKED = 16;
const WEIGHTS: StaticArray<i32> = [L_Q, L_K, L_V, L_O, L_GATE, L_UP, L_DOWN];

// State words: counts and flags, then offsets of the per-sequence arrays.
const S_B = 0;
const S_MAX_NEW = 1; // record slots per sequence
const S_RNG = 2; // splitmix32 state (engine/random.ts)
const S_GREEDY = 3;
const S_ACTIVE_N = 4;
const S_STOP_N = 5;
const S_ACTIVE = 6; // i32[B]: indices of the running sequences, ascending
const S_TOKEN_IN = 7; // i32[B]: the token each feeds next
const S_POS = 8; // i32[B]: its position
const S_LEN = 9; // i32[B]: tokens drawn so far
const S_LIMIT = 10; // i32[B]: tokens it may draw
const S_DONE = 11; // i32[B]: 0 running, 1 ended by a stop token, 2 at its limit
const S_U = 12; // f64[B]: this step's uniform draw
const S_STOP = 13; // i32[stopN]
const S_TOKENS = 14; // i32[B * maxNew]
const S_LOGP = 15; // f32[B * maxNew]
const S_ENTROPY = 16; // f32[B * maxNew]
const S_SC = 17; // f32[B * maxNew]
const S_LOGITS = 18; // f32[B * V]: the prefill's logits at each prompt's last position
const S_TEMPERATURE = 20; // f64 (words 20-21): the divisor of the logits (1 when greedy)
const S_LOG_V = 22; // f64 (words 22-23): log V

@inline
function word(block: usize, i: i32): i32 {
  return load<i32>(block + (<usize>i << 2));
}
@inline
function ptr(block: usize, i: i32): usize {
  return <usize>load<i32>(block + (<usize>i << 2));
}
@inline
function align16(p: usize): usize {
  return (p + 15) & ~15;
}

/** Uniform in [0, 1) from the splitmix32 state at `s` (engine/random.ts's Random.next()). */
function nextUniform(s: usize): f64 {
  const st = load<u32>(s) + 0x9e3779b9;
  store<u32>(s, st);
  let z = st;
  z = (z ^ (z >>> 16)) * 0x85ebca6b;
  z = (z ^ (z >>> 13)) * 0xc2b2ae35;
  z ^= z >>> 16;
  return <f64>z / 4294967296.0;
}

/** Starts a step on the calling thread: lists the running sequences in order and draws each one's
 *  uniform (the order Random.next() is called in by the TypeScript path). Returns their number. */
export function decodeBegin(state: usize): f64 {
  const B = word(state, S_B);
  const active = ptr(state, S_ACTIVE);
  const done = ptr(state, S_DONE);
  const u = ptr(state, S_U);
  const greedy = word(state, S_GREEDY) != 0;
  const rng = state + (<usize>S_RNG << 2);
  let n = 0;
  for (let b = 0; b < B; b++) {
    if (load<i32>(done + (<usize>b << 2)) != 0) continue;
    store<i32>(active + (<usize>n << 2), b);
    n++;
    if (!greedy) store<f64>(u + (<usize>b << 3), nextUniform(rng));
  }
  store<i32>(state + (<usize>S_ACTIVE_N << 2), n);
  return <f64>n;
}

/** Scratch bytes one thread needs to run up to `rows` sequences of the plan. */
export function decodeScratchBytes(plan: usize, rows: i32): i32 {
  const d = word(plan, P_DIM);
  const qd = word(plan, P_HQ) * word(plan, P_HEAD_DIM);
  const kvd = word(plan, P_HKV) * word(plan, P_HEAD_DIM);
  const ff = word(plan, P_FF);
  const V = word(plan, P_V);
  const floats = rows * (2 + 3 * d + 1 + 2 * qd + 2 * kvd + word(plan, P_HQ) + 2 * ff + V) + 2 * V;
  return floats * 4 + 16 * 16 + matmulScratchBytes() + attentionDecodeScratchBytes(word(plan, P_CAPACITY));
}

/** Packs the plan's weight matrices (its share t of nt of them) into their packed copies. */
export function decodePack(t: i32, nt: i32, plan: usize): void {
  const L = word(plan, P_L);
  const d = word(plan, P_DIM);
  const qd = word(plan, P_HQ) * word(plan, P_HEAD_DIM);
  const kvd = word(plan, P_HKV) * word(plan, P_HEAD_DIM);
  const ff = word(plan, P_FF);
  const count = 7 * L + 1;
  for (let i = (count * t) / nt; i < (count * (t + 1)) / nt; i++) {
    if (i == 7 * L) {
      packWeights(ptr(plan, P_HEAD_PACKED), ptr(plan, P_HEAD), word(plan, P_V), d);
      continue;
    }
    const lw = plan + (<usize>(P_LAYERS + (i / 7) * LAYER_WORDS) << 2);
    const m = i % 7;
    // [out, in] of q, k, v, o, gate, up, down.
    const n = m == 0 ? qd : m < 3 ? kvd : m < 4 ? d : m < 6 ? ff : d;
    const k = m == 3 ? qd : m == 6 ? ff : d;
    packWeights(ptr(lw, L_PACKED + m), ptr(lw, WEIGHTS[m]), n, k);
  }
}

// One linear layer on `rows` rows: y[rows, n] = x[rows, k] W^T (+ bias), as op.linear does it,
// with W packed (decodePack).
@inline
function linear(y: usize, x: usize, wp: usize, bias: usize, rows: i32, n: i32, k: i32, mm: usize): void {
  matmulPacked(y, x, wp, rows, n, k, mm);
  if (bias != 0) addRowVector(0, 1, y, y, bias, rows, n);
}

/** A decoding step for this thread's share of the running sequences (rows of 4 at a time): with
 *  `forward`, feed each its token and compute its logits; then draw its next token from them
 *  (without, from the prefill's logits in the state). */
export function decodeStep(t: i32, nt: i32, plan: usize, state: usize, forward: i32, scratch: usize, scratchStride: usize): void {
  const n = word(state, S_ACTIVE_N);
  const units = (n + 3) >> 2;
  const r0 = ((units * t) / nt) << 2;
  const r1 = min(n, ((units * (t + 1)) / nt) << 2);
  if (r0 >= r1) return;
  const rows = r1 - r0;
  const active = ptr(state, S_ACTIVE) + (<usize>r0 << 2);
  const V = word(plan, P_V);
  const base = align16(scratch + <usize>t * scratchStride);
  const probs = base; // f64[V]
  let logits = align16(probs + (<usize>V << 3));
  if (forward != 0) runLayers(plan, state, active, rows, logits + (<usize>(rows * V) << 2), logits);
  const stateLogits = ptr(state, S_LOGITS);
  for (let i = 0; i < rows; i++) {
    const b = load<i32>(active + (<usize>i << 2));
    const row = forward != 0 ? logits + (<usize>(i * V) << 2) : stateLogits + (<usize>(b * V) << 2);
    draw(state, b, row, V, probs);
  }
}

// The decoder on `rows` gathered sequences; logits [rows, V] out. Scratch from `s` on.
function runLayers(plan: usize, state: usize, active: usize, rows: i32, s: usize, logits: usize): void {
  const L = word(plan, P_L);
  const d = word(plan, P_DIM);
  const Hq = word(plan, P_HQ);
  const Hkv = word(plan, P_HKV);
  const D = word(plan, P_HEAD_DIM);
  const ff = word(plan, P_FF);
  const V = word(plan, P_V);
  const cap = word(plan, P_CAPACITY);
  const eps = load<f32>(plan + (<usize>P_EPS << 2));
  const scale = load<f32>(plan + (<usize>P_SCALE << 2));
  const qd = Hq * D;
  const kvd = Hkv * D;
  const R = <usize>rows;
  // Scratch: ids, positions, activations, then the matmul's and attention's own scratch.
  const ids = s;
  const pos = align16(ids + (R << 2));
  const x = align16(pos + (R << 2));
  const h = align16(x + ((R * d) << 2));
  const o = align16(h + ((R * d) << 2));
  const rstd = align16(o + ((R * d) << 2));
  const q = align16(rstd + (R << 2));
  const k = align16(q + ((R * qd) << 2));
  const v = align16(k + ((R * kvd) << 2));
  const a = align16(v + ((R * kvd) << 2));
  const lse = align16(a + ((R * qd) << 2));
  const g = align16(lse + ((R * Hq) << 2));
  const u = align16(g + ((R * ff) << 2));
  const mm = align16(u + ((R * ff) << 2));
  const att = align16(mm + <usize>matmulScratchBytes());

  const tokIn = ptr(state, S_TOKEN_IN);
  const posOf = ptr(state, S_POS);
  for (let i = 0; i < rows; i++) {
    const b = <usize>load<i32>(active + (<usize>i << 2));
    store<i32>(ids + (<usize>i << 2), load<i32>(tokIn + (b << 2)));
    store<i32>(pos + (<usize>i << 2), load<i32>(posOf + (b << 2)));
  }
  embedding(0, 1, x, ptr(plan, P_EMBED), ids, rows, d);
  const rowBytes = <usize>kvd << 2;
  for (let l = 0; l < L; l++) {
    const lw = plan + (<usize>(P_LAYERS + l * LAYER_WORDS) << 2);
    rmsnormForward(0, 1, h, rstd, x, ptr(lw, L_NORM1), rows, d, eps);
    linear(q, h, ptr(lw, L_PACKED), ptr(lw, L_QB), rows, qd, d, mm);
    linear(k, h, ptr(lw, L_PACKED + 1), ptr(lw, L_KB), rows, kvd, d, mm);
    linear(v, h, ptr(lw, L_PACKED + 2), ptr(lw, L_VB), rows, kvd, d, mm);
    rope(0, 1, q, q, pos, rows, Hq, D, ptr(plan, P_COS), ptr(plan, P_SIN), 1.0);
    rope(0, 1, k, k, pos, rows, Hkv, D, ptr(plan, P_COS), ptr(plan, P_SIN), 1.0);
    const kc = ptr(lw, L_KCACHE);
    const vc = ptr(lw, L_VCACHE);
    for (let i = 0; i < rows; i++) {
      // Append this position's key and value to sequence b's cache rows, then attend over them.
      const b = <usize>load<i32>(active + (<usize>i << 2));
      const seq = b * <usize>cap * rowBytes;
      const at = seq + <usize>load<i32>(pos + (<usize>i << 2)) * rowBytes;
      memory.copy(kc + at, k + <usize>i * rowBytes, rowBytes);
      memory.copy(vc + at, v + <usize>i * rowBytes, rowBytes);
      const qo = <usize>(i * qd) << 2;
      attentionDecode(0, 1, a + qo, lse + (<usize>(i * Hq) << 2), q + qo, kc + seq, vc + seq, 1, cap, Hq, Hkv, D, pos + (<usize>i << 2), scale, att, 0);
    }
    linear(o, a, ptr(lw, L_PACKED + 3), 0, rows, d, qd, mm);
    binary(0, 1, 0, x, x, o, rows * d, 0); // x += o
    rmsnormForward(0, 1, h, rstd, x, ptr(lw, L_NORM2), rows, d, eps);
    linear(g, h, ptr(lw, L_PACKED + 4), 0, rows, ff, d, mm);
    linear(u, h, ptr(lw, L_PACKED + 5), 0, rows, ff, d, mm);
    swigluForward(0, 1, g, g, u, rows * ff);
    linear(o, g, ptr(lw, L_PACKED + 6), 0, rows, d, ff, mm);
    binary(0, 1, 0, x, x, o, rows * d, 0); // x += mlp
  }
  rmsnormForward(0, 1, h, rstd, x, ptr(plan, P_NORM), rows, d, eps);
  linear(logits, h, ptr(plan, P_HEAD_PACKED), 0, rows, V, d, mm);
  // The token just fed now sits at pos; the next one goes after it.
  for (let i = 0; i < rows; i++) {
    const b = <usize>load<i32>(active + (<usize>i << 2));
    store<i32>(posOf + (b << 2), load<i32>(posOf + (b << 2)) + 1);
  }
}

// Statistics of softmax(row / temperature) and the next token of sequence b, as model/sample.ts's
// distributionStats and drawToken compute them (float64, same order of operations).
function draw(state: usize, b: i32, row: usize, V: i32, probs: usize): void {
  const temp = load<f64>(state + (<usize>S_TEMPERATURE << 2));
  let m = -Infinity;
  let mean: f64 = 0;
  for (let j = 0; j < V; j++) {
    const z = <f64>load<f32>(row + (<usize>j << 2)) / temp;
    if (z > m) m = z;
    mean += z;
  }
  mean /= <f64>V;
  let s: f64 = 0;
  for (let j = 0; j < V; j++) {
    const p = fdExp(<f64>load<f32>(row + (<usize>j << 2)) / temp - m);
    store<f64>(probs + (<usize>j << 3), p);
    s += p;
  }
  const lse = m + fdLog(s);
  let H: f64 = 0;
  for (let j = 0; j < V; j++) {
    const p = load<f64>(probs + (<usize>j << 3)) / s;
    store<f64>(probs + (<usize>j << 3), p);
    if (p > 0) H -= p * (<f64>load<f32>(row + (<usize>j << 2)) / temp - lse);
  }
  const sc = lse - mean - load<f64>(state + (<usize>S_LOG_V << 2));
  let tok = 0;
  if (word(state, S_GREEDY) != 0) {
    let best = <f64>load<f32>(row) / temp;
    for (let j = 1; j < V; j++) {
      const z = <f64>load<f32>(row + (<usize>j << 2)) / temp;
      if (z > best) {
        best = z;
        tok = j;
      }
    }
  } else {
    let u = load<f64>(ptr(state, S_U) + (<usize>b << 3));
    tok = -1;
    for (let j = 0; j < V; j++) {
      u -= load<f64>(probs + (<usize>j << 3));
      if (u < 0) {
        tok = j;
        break;
      }
    }
    if (tok < 0) {
      // Rounding left u >= 0: the last token with mass.
      tok = V - 1;
      for (let j = V - 1; j >= 0; j--)
        if (load<f64>(probs + (<usize>j << 3)) > 0) {
          tok = j;
          break;
        }
    }
  }
  const logp = <f64>load<f32>(row + (<usize>tok << 2)) / temp - lse;
  // Record, then decide whether the sequence goes on.
  const lenP = ptr(state, S_LEN) + (<usize>b << 2);
  const len = load<i32>(lenP);
  const at = <usize>(b * word(state, S_MAX_NEW) + len);
  store<i32>(ptr(state, S_TOKENS) + (at << 2), tok);
  store<f32>(ptr(state, S_LOGP) + (at << 2), <f32>logp);
  store<f32>(ptr(state, S_ENTROPY) + (at << 2), <f32>H);
  store<f32>(ptr(state, S_SC) + (at << 2), <f32>sc);
  store<i32>(lenP, len + 1);
  store<i32>(ptr(state, S_TOKEN_IN) + (<usize>b << 2), tok);
  const stops = ptr(state, S_STOP);
  const nStop = word(state, S_STOP_N);
  let done = len + 1 >= load<i32>(ptr(state, S_LIMIT) + (<usize>b << 2)) ? 2 : 0;
  for (let i = 0; i < nStop; i++)
    if (load<i32>(stops + (<usize>i << 2)) == tok) {
      done = 1;
      break;
    }
  store<i32>(ptr(state, S_DONE) + (<usize>b << 2), done);
}
