// TF.js peer of the side-by-side benchmark: the same Qwen2-shaped decoder as
// src/model/transformer.ts on @tensorflow/tfjs-backend-wasm (XNNPACK, SIMD), loaded from
// node_modules without network. RMSNorm, RoPE (rotate_half), GQA causal attention, SwiGLU,
// q/k/v biases, tied LM head; training = cross-entropy, tf.variableGrads, AdamW (decoupled
// decay, written out: TF.js has none); sampling = batched with a KV cache (concatenated per step:
// TF.js tensors are immutable), the drawn token's log p / entropy / self-certainty in float64
// JS as rlif's sampler does.
// TF.js's threaded wasm build cannot start in Node (its workers are blob: URLs), so it runs on
// one thread whatever --threads says; the result says so.
// Two kernels that TF.js-wasm lacks are worked around: the embedding gradient
// (UnsortedSegmentSum) is a scatterND through tf.customGrad.

import { createRequire } from "node:module";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import {
  lcgIds,
  MODEL_CONFIG,
  type PeerResult,
  parseWorkload,
  peakRssMb,
  printResult,
  timed,
} from "./common.ts";

const w = parseWorkload();
const require = createRequire(import.meta.url);
setWasmPaths(
  `${path.dirname(require.resolve("@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm"))}/`,
);
if (!(await tf.setBackend("wasm"))) throw new Error("TF.js wasm backend failed to initialise");

const C = MODEL_CONFIG;
const V = C.vocab_size;
const d = C.hidden_size;
const L = C.num_hidden_layers;
const Hq = C.num_attention_heads;
const Hkv = C.num_key_value_heads;
const D = d / Hq;
const G = Hq / Hkv;
const ff = C.intermediate_size;

interface Layer {
  ln1: tf.Variable;
  q: tf.Variable;
  qb: tf.Variable;
  k: tf.Variable;
  kb: tf.Variable;
  v: tf.Variable;
  vb: tf.Variable;
  o: tf.Variable;
  ln2: tf.Variable;
  gate: tf.Variable;
  up: tf.Variable;
  down: tf.Variable;
}

let seed = 0;
const normal = (shape: number[], name: string) =>
  tf.variable(tf.randomNormal(shape, 0, C.initializer_range, "float32", seed++), true, name);
const ones = (n: number, name: string) => tf.variable(tf.ones([n]), true, name);
const zeros = (n: number, name: string) => tf.variable(tf.zeros([n]), true, name);
const embed = normal([V, d], "embed");
const layers: Layer[] = [];
for (let l = 0; l < L; l++)
  layers.push({
    ln1: ones(d, `l${l}.ln1`),
    q: normal([d, Hq * D], `l${l}.q`),
    qb: zeros(Hq * D, `l${l}.qb`),
    k: normal([d, Hkv * D], `l${l}.k`),
    kb: zeros(Hkv * D, `l${l}.kb`),
    v: normal([d, Hkv * D], `l${l}.v`),
    vb: zeros(Hkv * D, `l${l}.vb`),
    o: normal([Hq * D, d], `l${l}.o`),
    ln2: ones(d, `l${l}.ln2`),
    gate: normal([d, ff], `l${l}.gate`),
    up: normal([d, ff], `l${l}.up`),
    down: normal([ff, d], `l${l}.down`),
  });
const norm = ones(d, "norm");
const allVars: tf.Variable[] = [embed, ...layers.flatMap((l) => Object.values(l)), norm];
const noDecay = (v: tf.Variable) => v.rank === 1; // norms and biases, as rlif's AdamW

const rmsnorm = (x: tf.Tensor2D, wt: tf.Tensor) =>
  x.mul(tf.rsqrt(x.square().mean(-1, true).add(C.rms_norm_eps))).mul(wt) as tf.Tensor2D;

// TF.js-wasm runs a matmul with a transposed operand about 6x slower than a plain one (it leaves
// XNNPACK's fast path), and autodiff of y = x W makes exactly such products (dy W^T, x^T dy).
// So weights are stored [in, out] (the Keras layout) and the gradients transpose explicitly,
// which is the fastest TF.js we found (about 2x faster on the training step than the naive code).
const gradOf = (x: tf.Tensor, W: tf.Tensor, dy: tf.Tensor) => [
  tf.matMul(dy, tf.transpose(W)),
  tf.matMul(tf.transpose(x), dy),
];

type GradFn = (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor[];
/** tf.customGrad with typed arguments: f gets the input tensors and the save function. */
function custom(f: (inputs: tf.Tensor[], save: tf.GradSaveFunc) => { value: tf.Tensor; gradFunc: GradFn }) {
  return tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) =>
    f(args.slice(0, -1) as tf.Tensor[], args[args.length - 1] as tf.GradSaveFunc),
  );
}

const linearNoBias = custom(([x, W], save) => {
  save([x, W]);
  return { value: tf.matMul(x, W), gradFunc: (dy, [sx, sW]) => gradOf(sx, sW, dy) };
});
const linearBias = custom(([x, W, bias], save) => {
  save([x, W]);
  return {
    value: tf.fused.matMul({ a: x as tf.Tensor2D, b: W as tf.Tensor2D, bias }),
    gradFunc: (dy, [sx, sW]) => [...gradOf(sx, sW, dy), dy.sum(0)],
  };
});
const linear = (x: tf.Tensor2D, W: tf.Tensor, bias?: tf.Tensor) =>
  (bias ? linearBias(x, W, bias) : linearNoBias(x, W)) as tf.Tensor2D;
/** x E^T for the tied head, E [V, d] as the embedding table needs it. */
const lmHead = custom(([x, E], save) => {
  save([x, E]);
  return {
    value: tf.matMul(x, tf.transpose(E)),
    gradFunc: (dy, [sx, sE]) => [tf.matMul(dy, sE), tf.matMul(tf.transpose(dy), sx)],
  };
});

/** cos/sin [T, 1, D] of positions pos0..pos0+T-1 (rotate_half layout). */
function ropeTables(pos0: number, T: number): [tf.Tensor, tf.Tensor] {
  const cos = new Float32Array(T * D);
  const sin = new Float32Array(T * D);
  for (let t = 0; t < T; t++)
    for (let i = 0; i < D / 2; i++) {
      const a = (pos0 + t) * C.rope_theta ** ((-2 * i) / D);
      cos[t * D + i] = cos[t * D + i + D / 2] = Math.cos(a);
      sin[t * D + i] = sin[t * D + i + D / 2] = Math.sin(a);
    }
  return [tf.tensor3d(cos, [T, 1, D]), tf.tensor3d(sin, [T, 1, D])];
}

/** x [B, T, H, D] rotated by the tables. */
function rope(x: tf.Tensor4D, cos: tf.Tensor, sin: tf.Tensor): tf.Tensor4D {
  const [x1, x2] = tf.split(x, 2, -1);
  return x.mul(cos).add(tf.concat([x2.neg(), x1], -1).mul(sin)) as tf.Tensor4D;
}

/** Embedding lookup whose gradient is a scatter-add (TF.js-wasm lacks UnsortedSegmentSum). */
function embedding(ids: tf.Tensor1D): tf.Tensor2D {
  const idx = ids.reshape([-1, 1]) as tf.Tensor2D;
  const f = custom(([E]) => ({
    value: tf.gather(E, ids),
    gradFunc: (dy) => [tf.scatterND(idx, dy, [V, d])],
  }));
  return f(embed) as tf.Tensor2D;
}

/** Causal mask [G*T, Tk] as an additive bias: query row t (of any of the G heads) sees keys <= pos0 + t. */
function maskBias(T: number, pos0: number): tf.Tensor2D {
  const m = new Float32Array(G * T * (pos0 + T));
  const Tk = pos0 + T;
  for (let g = 0; g < G; g++)
    for (let t = 0; t < T; t++) for (let s = pos0 + t + 1; s < Tk; s++) m[(g * T + t) * Tk + s] = -1e9;
  return tf.tensor2d(m, [G * T, Tk]);
}

type Cache = { k: tf.Tensor[]; v: tf.Tensor[] };

/** Logits [B*T, V] of ids [B*T] at positions pos0..; with a cache, keys/values are appended to it. */
function forward(ids: tf.Tensor1D, B: number, T: number, pos0 = 0, cache?: Cache): tf.Tensor2D {
  const N = B * T;
  const [cos, sin] = ropeTables(pos0, T);
  const Tk = pos0 + T;
  const mask = T > 1 ? maskBias(T, pos0) : null;
  let x = embedding(ids);
  layers.forEach((p, l) => {
    const h = rmsnorm(x, p.ln1);
    const q = rope(linear(h, p.q, p.qb).reshape([B, T, Hq, D]), cos, sin);
    let k = rope(linear(h, p.k, p.kb).reshape([B, T, Hkv, D]), cos, sin).transpose([0, 2, 1, 3]);
    let v = linear(h, p.v, p.vb).reshape([B, T, Hkv, D]).transpose([0, 2, 1, 3]);
    if (cache) {
      if (pos0 > 0) {
        k = tf.concat([cache.k[l], k], 2);
        v = tf.concat([cache.v[l], v], 2);
        cache.k[l].dispose();
        cache.v[l].dispose();
      }
      cache.k[l] = tf.keep(k);
      cache.v[l] = tf.keep(v);
    }
    // GQA without repeating keys: the G query heads of a kv head become G*T query rows.
    const qg = q
      .reshape([B, T, Hkv, G, D])
      .transpose([0, 2, 3, 1, 4])
      .reshape([B * Hkv, G * T, D]);
    let s = tf.matMul(qg, k.reshape([B * Hkv, Tk, D]), false, true).mul(1 / Math.sqrt(D));
    if (mask) s = s.add(mask);
    const a = tf.matMul(tf.softmax(s), v.reshape([B * Hkv, Tk, D]));
    const merged = a
      .reshape([B, Hkv, G, T, D])
      .transpose([0, 3, 1, 2, 4])
      .reshape([N, Hq * D]) as tf.Tensor2D;
    x = x.add(linear(merged, p.o));
    const h2 = rmsnorm(x, p.ln2);
    const g = linear(h2, p.gate);
    x = x.add(linear(g.mul(tf.sigmoid(g)).mul(linear(h2, p.up)) as tf.Tensor2D, p.down));
  });
  return lmHead(rmsnorm(x, norm), embed) as tf.Tensor2D; // tied LM head
}

// AdamW, decoupled weight decay, bias-corrected (as src/engine/optim.ts).
const adam = { step: 0, b1: 0.9, b2: 0.999, eps: 1e-8, wd: 0.01 };
const mState = allVars.map((v) => tf.variable(tf.zerosLike(v), false));
const vState = allVars.map((v) => tf.variable(tf.zerosLike(v), false));
function adamw(grads: tf.NamedTensorMap, lr: number): void {
  adam.step++;
  const c1 = 1 - adam.b1 ** adam.step;
  const c2 = 1 - adam.b2 ** adam.step;
  tf.tidy(() =>
    allVars.forEach((p, i) => {
      const g = grads[p.name];
      const m = mState[i].mul(adam.b1).add(g.mul(1 - adam.b1));
      const v = vState[i].mul(adam.b2).add(g.square().mul(1 - adam.b2));
      mState[i].assign(m);
      vState[i].assign(v);
      const upd = m.div(c1).div(v.div(c2).sqrt().add(adam.eps));
      const decayed = noDecay(p) ? p : p.mul(1 - lr * adam.wd);
      p.assign(decayed.sub(upd.mul(lr)));
    }),
  );
}

const result: PeerResult = {
  impl: "tfjs_wasm",
  threads: 1,
  params: allVars.reduce((n, v) => n + v.size, 0),
  backend: `tfjs-wasm ${tf.version_core} (simd, 1 thread)`,
  peak_rss_mb: 0,
};
if (w.threads !== 1) result.note = "TF.js's threaded wasm build cannot start in Node: ran on 1 thread";

// TF.js keeps every intermediate of variableGrads alive and its wasm heap is capped, so the full
// 64 x 128 batch does not fit (it dies in a kernel); the step runs as micro-batches of at most
// MICRO sequences whose gradients add up (the loss is weighted by the whole batch's token count,
// so the sum is the full batch's gradient), then one AdamW update.
const MICRO = Number(process.env.RLIF_BENCH_TFJS_MICRO ?? 16);

if (!w.skip.has("train")) {
  const { batch: B, seq: T } = w;
  const raw = lcgIds(B * T, 1, V);
  const chunks: { ids: tf.Tensor1D; labels: tf.Tensor; wt: tf.Tensor; n: number }[] = [];
  for (let b0 = 0; b0 < B; b0 += MICRO) {
    const n = Math.min(MICRO, B - b0);
    const part = raw.subarray(b0 * T, (b0 + n) * T);
    const targets = new Int32Array(n * T);
    const weights = new Float32Array(n * T);
    for (let b = 0; b < n; b++)
      for (let t = 0; t < T - 1; t++) {
        targets[b * T + t] = part[b * T + t + 1];
        weights[b * T + t] = 1 / (B * (T - 1));
      }
    chunks.push({
      ids: tf.tensor1d(part, "int32"),
      labels: tf.oneHot(tf.tensor1d(targets, "int32"), V).toFloat(),
      wt: tf.tensor1d(weights),
      n,
    });
  }
  if (chunks.length > 1)
    result.note = `training step as ${chunks.length} micro-batches of ${MICRO} sequences`;
  const losses: number[] = [];
  result.train_cpu_ms = [];
  result.train_ms = await timed(
    () => {
      let total: tf.NamedTensorMap | null = null;
      let loss = 0;
      for (const c of chunks) {
        const { value, grads } = tf.variableGrads(
          () =>
            tf.losses.softmaxCrossEntropy(
              c.labels,
              forward(c.ids, c.n, T),
              c.wt,
              undefined,
              tf.Reduction.SUM,
            ) as tf.Scalar,
          allVars,
        );
        loss += value.dataSync()[0];
        value.dispose();
        if (total === null) total = grads;
        else {
          const prev: tf.NamedTensorMap = total;
          total = Object.fromEntries(Object.entries(grads).map(([k, g]) => [k, prev[k].add(g)]));
          tf.dispose([prev, grads]);
        }
      }
      adamw(total!, 1e-3);
      tf.dispose(total!);
      losses.push(loss);
    },
    w.reps,
    w.warmup,
    result.train_cpu_ms,
  );
  result.train_tokens = B * T;
  result.first_loss = losses[0];
}

/** Sum of the per-token statistics, so that computing them is not dead code. */
let statsSink = 0;

/** Draw from softmax(z) in float64 and compute what rlif's sampler records for the token. */
function draw(z: Float32Array, off: number, rand: () => number): number {
  let m = Number.NEGATIVE_INFINITY;
  let sum = 0;
  for (let j = 0; j < V; j++) {
    m = Math.max(m, z[off + j]);
    sum += z[off + j];
  }
  const p = new Float64Array(V);
  let s = 0;
  for (let j = 0; j < V; j++) s += p[j] = Math.exp(z[off + j] - m);
  const lse = m + Math.log(s);
  let H = 0;
  for (let j = 0; j < V; j++) H -= (p[j] / s) * (z[off + j] - lse);
  let u = rand() * s;
  let tok = V - 1;
  for (let j = 0; j < V; j++)
    if ((u -= p[j]) < 0) {
      tok = j;
      break;
    }
  // log p(token), entropy, self-certainty
  statsSink += z[off + tok] - lse + H + (lse - sum / V - Math.log(V));
  return tok;
}

if (!w.skip.has("sample")) {
  const P = w.prompts;
  const Tp = w.promptLen;
  const prompts = lcgIds(P * Tp, 2, V);
  let state = 12345;
  const rand = () => (state = (Math.imul(state, 1103515245) + 12345) & 0x7fffffff) / 2147483648;
  result.sample_cpu_ms = [];
  result.sample_ms = await timed(
    () => {
      const cache: Cache = { k: [], v: [] };
      let z = tf
        .tidy(() => forward(tf.tensor1d(prompts, "int32"), P, Tp, 0, cache))
        .dataSync() as Float32Array;
      let rowStride = Tp;
      for (let step = 0; step < w.newTokens; step++) {
        const next = new Int32Array(P);
        for (let b = 0; b < P; b++) next[b] = draw(z, (b * rowStride + rowStride - 1) * V, rand);
        if (step === w.newTokens - 1) break;
        const logits = tf.tidy(() => forward(tf.tensor1d(next, "int32"), P, 1, Tp + step, cache));
        z = logits.dataSync() as Float32Array;
        logits.dispose();
        rowStride = 1;
      }
      tf.dispose([...cache.k, ...cache.v]);
    },
    w.reps,
    w.warmup,
    result.sample_cpu_ms,
  );
  result.sample_tokens = P * w.newTokens;
}

if (!w.skip.has("matmul")) {
  const [M, K, N] = w.matmul;
  const a = tf.randomUniform([M, K], -1, 1);
  const b = tf.randomUniform([K, N], -1, 1);
  result.matmul_ms = await timed(
    () => {
      const c = tf.matMul(a, b);
      c.dataSync();
      c.dispose();
    },
    Math.max(w.reps, 5),
    2,
  );
  result.matmul_flops = 2 * M * K * N;
}

result.peak_rss_mb = peakRssMb();
if (!Number.isFinite(statsSink)) result.note = `${result.note ?? ""} non-finite sampling statistics`;
printResult(result);
process.exit(0);
