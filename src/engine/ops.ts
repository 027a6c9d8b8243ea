// Differentiable ops. Each op runs its forward kernel and, when an input needs a gradient,
// records the matching backward kernel next to it. Shapes are checked here, once, so that
// kernels can trust them.

import type { AttentionShape, BinaryOp, RopeScaling, UnaryOp } from "./backend.ts";
import { type GradFn, gradOf, isGradEnabled, Tensor } from "./tensor.ts";

function like(shape: readonly number[], ref: Tensor): Tensor {
  return new Tensor(shape, { backend: ref.backend });
}

/** Attach a backward to `out` if any input requires grad (and recording is on). */
function record(out: Tensor, name: string, inputs: Tensor[], backward: GradFn["backward"]): Tensor {
  if (isGradEnabled() && inputs.some((t) => t.requiresGrad)) {
    out.requiresGrad = true;
    out.gradFn = { name, inputs, backward };
  }
  return out;
}

/** Gradient buffer of t if it takes part in autodiff, else null. */
function g(t: Tensor) {
  return t.requiresGrad ? gradOf(t).storage : null;
}

function sameSize(a: Tensor, b: Tensor, op: string): void {
  if (b.size !== a.size && b.size !== 1)
    throw new Error(`${op}: sizes differ ([${a.shape}] vs [${b.shape}]) and b is not a scalar`);
}

// ---------------------------------------------------------------- elementwise
function binaryOp(op: BinaryOp, a: Tensor, b: Tensor): Tensor {
  sameSize(a, b, op);
  const out = like(a.shape, a);
  a.backend.binary(op, out.storage, a.storage, b.storage);
  return record(out, op, [a, b], (go) => {
    a.backend.binaryBackward(op, g(a), g(b), a.storage, b.storage, go.storage);
  });
}

export const add = (a: Tensor, b: Tensor) => binaryOp("add", a, b);
export const sub = (a: Tensor, b: Tensor) => binaryOp("sub", a, b);
export const mul = (a: Tensor, b: Tensor) => binaryOp("mul", a, b);
export const div = (a: Tensor, b: Tensor) => binaryOp("div", a, b);
export const minimum = (a: Tensor, b: Tensor) => binaryOp("min", a, b);
export const maximum = (a: Tensor, b: Tensor) => binaryOp("max", a, b);

function unaryOp(op: UnaryOp, a: Tensor): Tensor {
  const out = like(a.shape, a);
  a.backend.unary(op, out.storage, a.storage);
  return record(out, op, [a], (go) => {
    a.backend.unaryBackward(op, gradOf(a).storage, a.storage, out.storage, go.storage);
  });
}

export const neg = (a: Tensor) => unaryOp("neg", a);
export const exp = (a: Tensor) => unaryOp("exp", a);
export const log = (a: Tensor) => unaryOp("log", a);
export const square = (a: Tensor) => unaryOp("square", a);
export const sqrt = (a: Tensor) => unaryOp("sqrt", a);
export const relu = (a: Tensor) => unaryOp("relu", a);
export const sigmoid = (a: Tensor) => unaryOp("sigmoid", a);
export const silu = (a: Tensor) => unaryOp("silu", a);
export const abs = (a: Tensor) => unaryOp("abs", a);

export function clamp(a: Tensor, lo: number, hi: number): Tensor {
  const out = like(a.shape, a);
  a.backend.clamp(out.storage, a.storage, lo, hi);
  return record(out, "clamp", [a], (go) => {
    a.backend.clampBackward(gradOf(a).storage, a.storage, lo, hi, go.storage);
  });
}

/** a * s + t */
export function affine(a: Tensor, s: number, t = 0): Tensor {
  const out = like(a.shape, a);
  a.backend.affine(out.storage, a.storage, s, t);
  return record(out, "affine", [a], (go) => {
    a.backend.axpy(gradOf(a).storage, go.storage, s);
  });
}

export const scale = (a: Tensor, s: number) => affine(a, s, 0);

// ---------------------------------------------------------------- reductions
/** Sum of all elements, shape [1]. */
export function sum(a: Tensor): Tensor {
  const out = like([1], a);
  a.backend.sum(out.storage, a.storage);
  return record(out, "sum", [a], (go) => {
    a.backend.broadcastRows(gradOf(a).storage, go.storage, 1, a.size, true);
  });
}

export function mean(a: Tensor): Tensor {
  return scale(sum(a), 1 / Math.max(1, a.size));
}

/** Row sums of a [rows, cols] tensor, shape [rows]. */
export function sumRows(a: Tensor): Tensor {
  if (a.shape.length !== 2) throw new Error(`sumRows expects 2-D, got [${a.shape}]`);
  const [rows, cols] = a.shape;
  const out = like([rows], a);
  a.backend.sum(out.storage, a.storage, rows, cols);
  return record(out, "sumRows", [a], (go) => {
    a.backend.broadcastRows(gradOf(a).storage, go.storage, rows, cols, true);
  });
}

/** Column j of a [N, C] tensor, shape [N]. */
export function column(a: Tensor, j: number): Tensor {
  if (a.shape.length !== 2 || j < 0 || j >= a.shape[1]) throw new Error(`column ${j} of [${a.shape}]`);
  const [n, c] = a.shape;
  const out = like([n], a);
  // A column gather is a matmul with a one-hot vector: keeps backends free of strided-copy kernels.
  const sel = like([c], a);
  const onehot = new Array(c).fill(0);
  onehot[j] = 1;
  sel.write(onehot);
  a.backend.matmul(out.storage, a.storage, sel.storage, { M: n, N: 1, K: c });
  return record(out, "column", [a], (go) => {
    a.backend.matmul(gradOf(a).storage, go.storage, sel.storage, { M: n, N: c, K: 1, accumulate: true });
  });
}

// ---------------------------------------------------------------- linear algebra
/** op(a) @ op(b) for 2-D tensors; transposes are free (kernels read either layout). */
export function matmul(a: Tensor, b: Tensor, transA = false, transB = false): Tensor {
  if (a.shape.length !== 2 || b.shape.length !== 2) throw new Error("matmul expects 2-D tensors");
  const [M, K] = transA ? [a.shape[1], a.shape[0]] : [a.shape[0], a.shape[1]];
  const [K2, N] = transB ? [b.shape[1], b.shape[0]] : [b.shape[0], b.shape[1]];
  if (K !== K2) throw new Error(`matmul: inner sizes differ, [${a.shape}] x [${b.shape}]`);
  const out = like([M, N], a);
  const be = a.backend;
  be.matmul(out.storage, a.storage, b.storage, { M, N, K, transA, transB });
  return record(out, "matmul", [a, b], (go) => {
    const accumulate = true;
    // C = A B  =>  dA = dC B^T, dB = A^T dC (with the stored layouts of A and B).
    if (a.requiresGrad) {
      const dA = gradOf(a).storage;
      if (transA)
        be.matmul(dA, b.storage, go.storage, { M: K, N: M, K: N, transA: transB, transB: true, accumulate });
      else be.matmul(dA, go.storage, b.storage, { M, N: K, K: N, transB: !transB, accumulate });
    }
    if (b.requiresGrad) {
      const dB = gradOf(b).storage;
      if (transB)
        be.matmul(dB, go.storage, a.storage, { M: N, N: K, K: M, transA: true, transB: transA, accumulate });
      else be.matmul(dB, a.storage, go.storage, { M: K, N, K: M, transA: !transA, accumulate });
    }
  });
}

/** x [n, in] -> x W^T + bias, with W stored [out, in] as in PyTorch / Hugging Face. */
export function linear(x: Tensor, w: Tensor, bias?: Tensor | null): Tensor {
  const y = matmul(x, w, false, true);
  return bias ? addRowVector(y, bias) : y;
}

/** a [rows, cols] + v [cols] broadcast over rows. */
export function addRowVector(a: Tensor, v: Tensor): Tensor {
  const [rows, cols] = a.shape;
  if (a.shape.length !== 2 || v.size !== cols) throw new Error(`addRowVector: [${a.shape}] + [${v.shape}]`);
  const out = like(a.shape, a);
  a.backend.addRowVector(out.storage, a.storage, v.storage, rows, cols);
  return record(out, "addRowVector", [a, v], (go) => {
    if (a.requiresGrad) a.backend.axpy(gradOf(a).storage, go.storage, 1);
    if (v.requiresGrad) a.backend.sumRowsAcc(gradOf(v).storage, go.storage, rows, cols);
  });
}

// ---------------------------------------------------------------- transformer layers
export function embedding(ids: Int32Array, table: Tensor): Tensor {
  const [V, dim] = table.shape;
  for (const id of ids) if (id < 0 || id >= V) throw new Error(`token id ${id} outside vocabulary of ${V}`);
  const out = like([ids.length, dim], table);
  table.backend.embedding(out.storage, table.storage, ids, dim);
  return record(out, "embedding", [table], (go) => {
    table.backend.embeddingBackward(gradOf(table).storage, ids, go.storage, dim);
  });
}

export function rmsnorm(x: Tensor, w: Tensor, eps: number): Tensor {
  const dim = x.shape[x.shape.length - 1];
  if (w.size !== dim) throw new Error(`rmsnorm: weight [${w.shape}] for rows of ${dim}`);
  const rows = x.size / dim;
  const out = like(x.shape, x);
  const rstd = like([rows], x);
  const be = x.backend;
  be.rmsnorm(out.storage, rstd.storage, x.storage, w.storage, rows, dim, eps);
  return record(out, "rmsnorm", [x, w], (go) => {
    // Kernels accumulate into both; a throwaway buffer takes the gradient nobody asked for.
    const dx = x.requiresGrad ? gradOf(x) : like(x.shape, x);
    const dw = w.requiresGrad ? gradOf(w) : like(w.shape, w);
    be.rmsnormBackward(dx.storage, dw.storage, go.storage, x.storage, w.storage, rstd.storage, rows, dim);
    if (!x.requiresGrad) dx.dispose();
    if (!w.requiresGrad) dw.dispose();
  });
}

/** Rotary position embedding over x [rows, H, D], one position per row (Llama 3 scaling optional). */
export function rope(x: Tensor, positions: Int32Array, theta: number, scaling?: RopeScaling): Tensor {
  if (x.shape.length !== 3) throw new Error(`rope expects [rows, H, D], got [${x.shape}]`);
  const [rows, H, D] = x.shape;
  if (positions.length !== rows) throw new Error(`rope: ${positions.length} positions for ${rows} rows`);
  if (D % 2) throw new Error("rope: head dimension must be even");
  const out = like(x.shape, x);
  const be = x.backend;
  be.rope(out.storage, x.storage, positions, { rows, H, D, theta, scaling });
  return record(out, "rope", [x], (go) => {
    const tmp = like(x.shape, x);
    be.rope(tmp.storage, go.storage, positions, { rows, H, D, theta, scaling, inverse: true });
    be.axpy(gradOf(x).storage, tmp.storage, 1);
    tmp.dispose();
  });
}

/** Causal grouped-query attention for training: q [B*T, Hq, D], k/v [B*T, Hkv, D]. */
export function attention(q: Tensor, k: Tensor, v: Tensor, B: number, T: number): Tensor {
  const [, Hq, D] = q.shape;
  const Hkv = k.shape[1];
  if (q.size !== B * T * Hq * D || k.size !== B * T * Hkv * D || v.size !== k.size || Hq % Hkv)
    throw new Error(`attention: bad shapes q [${q.shape}] k [${k.shape}] v [${v.shape}] for B=${B} T=${T}`);
  const shape: AttentionShape = { B, Tq: T, Tk: T, Hq, Hkv, D };
  const scale = 1 / Math.sqrt(D);
  const out = like(q.shape, q);
  const lse = like([B, Hq, T], q);
  const be = q.backend;
  be.attention(out.storage, lse.storage, q.storage, k.storage, v.storage, shape, new Int32Array(B), scale);
  return record(out, "attention", [q, k, v], (go) => {
    const tmp: Tensor[] = [];
    const buf = (t: Tensor) => {
      if (t.requiresGrad) return gradOf(t).storage;
      const z = like(t.shape, t);
      tmp.push(z);
      return z.storage;
    };
    const saved = { q: q.storage, k: k.storage, v: v.storage, out: out.storage, lse: lse.storage };
    be.attentionBackward({ dq: buf(q), dk: buf(k), dv: buf(v), dOut: go.storage, ...saved }, shape, scale);
    for (const t of tmp) t.dispose();
  });
}

export function swiglu(gate: Tensor, up: Tensor): Tensor {
  if (gate.size !== up.size) throw new Error("swiglu: gate and up differ in size");
  const out = like(gate.shape, gate);
  const be = gate.backend;
  be.swiglu(out.storage, gate.storage, up.storage);
  return record(out, "swiglu", [gate, up], (go) => {
    const dg = gate.requiresGrad ? gradOf(gate) : like(gate.shape, gate);
    const du = up.requiresGrad ? gradOf(up) : like(up.shape, up);
    be.swigluBackward(dg.storage, du.storage, gate.storage, up.storage, go.storage);
    if (!gate.requiresGrad) dg.dispose();
    if (!up.requiresGrad) du.dispose();
  });
}

/** Per row of logits [N, V]: [log p(target), entropy, self-certainty], shape [N, 3], one fused pass. */
export function tokenStats(logits: Tensor, targets: Int32Array): Tensor {
  if (logits.shape.length !== 2) throw new Error(`tokenStats expects [N, V], got [${logits.shape}]`);
  const [N, V] = logits.shape;
  if (targets.length !== N) throw new Error(`tokenStats: ${targets.length} targets for ${N} rows`);
  for (const t of targets) if (t >= V) throw new Error(`target ${t} outside vocabulary of ${V}`);
  const out = like([N, 3], logits);
  const lse = like([N], logits);
  const be = logits.backend;
  be.tokenStats(out.storage, lse.storage, logits.storage, targets, N, V);
  return record(out, "tokenStats", [logits], (go) => {
    be.tokenStatsBackward(gradOf(logits).storage, go.storage, logits.storage, lse.storage, targets, N, V);
  });
}

/** A constant (no-grad) tensor on the backend of `ref`. */
export function constant(values: ArrayLike<number>, shape: readonly number[], ref: Tensor): Tensor {
  return like(shape, ref).write(values);
}
