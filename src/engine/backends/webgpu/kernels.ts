// WGSL sources of the WebGPU backend, one function per kernel family, in the order of backend.ts.
// Every kernel reads its sizes from a uniform `p` (declared by the caller's binding list) and its
// workgroup index from `wid()`, a flat index over a 2-D dispatch (one dimension holds at most 65535
// groups). Elementwise kernels run 256 threads per group; row kernels one group per row.

import type { BinaryOp, UnaryOp } from "../../backend.ts";

/** How a kernel binds a buffer: written (read_write), read-only storage, or the uniform. */
export type BindingMode = "rw" | "r" | "u";

export interface KernelSource {
  code: string;
  /** Buffer bindings in order (0..n-1); the uniform is always the last. */
  bindings: BindingMode[];
  /** Types of the uniform's fields, in order (each 4 bytes). */
  fields: ("u32" | "f32")[];
}

const WID = `
fn wid(wg: vec3u, nw: vec3u) -> u32 { return wg.y * nw.x + wg.x; }`;

/** Declarations of storage bindings `names` (with modes) and of the uniform struct `fields`. */
function header(buffers: [string, "rw" | "r" | "ri"][], fields: string[]): string {
  const decl = buffers.map(([name, mode], i) => {
    const access = mode === "rw" ? "read_write" : "read";
    const type = mode === "ri" ? "array<i32>" : "array<f32>";
    return `@group(0) @binding(${i}) var<storage, ${access}> ${name}: ${type};`;
  });
  const struct = `struct P { ${fields.map((f) => `${f},`).join(" ")} }`;
  return `${struct}\n${decl.join("\n")}\n@group(0) @binding(${buffers.length}) var<uniform> p: P;\n${WID}\n`;
}

function source(buffers: [string, "rw" | "r" | "ri"][], fields: string[], body: string): KernelSource {
  return {
    code: header(buffers, fields) + body,
    bindings: [...buffers.map(([, m]) => (m === "rw" ? "rw" : "r") as BindingMode), "u"],
    fields: fields.map((f) => (f.endsWith("f32") ? "f32" : "u32")),
  };
}

/** One thread per element i < p.n; `body` sees i. */
function elementwise(buffers: [string, "rw" | "r" | "ri"][], fields: string[], body: string): KernelSource {
  return source(
    buffers,
    ["n: u32", ...fields],
    `@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nw: vec3u, @builtin(local_invocation_index) li: u32) {
  let i = wid(wg, nw) * 256u + li;
  if (i >= p.n) { return; }
  ${body}
}`,
  );
}

// A sum over a workgroup of 256 threads, in shared memory; every thread gets the total.
const REDUCE = `
var<workgroup> red: array<f32, 256>;
fn reduceSum(li: u32, x: f32) -> f32 {
  red[li] = x;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s >>= 1u) {
    if (li < s) { red[li] += red[li + s]; }
    workgroupBarrier();
  }
  let total = red[0];
  workgroupBarrier();
  return total;
}
fn reduceMax(li: u32, x: f32) -> f32 {
  red[li] = x;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s >>= 1u) {
    if (li < s) { red[li] = max(red[li], red[li + s]); }
    workgroupBarrier();
  }
  let total = red[0];
  workgroupBarrier();
  return total;
}`;

// ---------------------------------------------------------------- elementwise
const UNARY: Record<UnaryOp, string> = {
  neg: "-x",
  exp: "exp(x)",
  log: "log(x)",
  square: "x * x",
  sqrt: "sqrt(x)",
  relu: "select(0.0, x, x > 0.0)",
  sigmoid: "1.0 / (1.0 + exp(-x))",
  silu: "x / (1.0 + exp(-x))",
  abs: "abs(x)",
};

const UNARY_GRAD: Record<UnaryOp, string> = {
  neg: "-g",
  exp: "g * y",
  log: "g / x",
  square: "2.0 * x * g",
  sqrt: "g / (2.0 * y)",
  relu: "select(0.0, g, x > 0.0)",
  sigmoid: "g * y * (1.0 - y)",
  silu: "g * (1.0 / (1.0 + exp(-x))) * (1.0 + x * (1.0 - 1.0 / (1.0 + exp(-x))))",
  abs: "select(select(0.0, -g, x < 0.0), g, x > 0.0)",
};

export function unary(op: UnaryOp): KernelSource {
  return elementwise(
    [
      ["o", "rw"],
      ["a", "r"],
    ],
    [],
    `let x = a[i]; o[i] = ${UNARY[op]};`,
  );
}

export function unaryBackward(op: UnaryOp): KernelSource {
  return elementwise(
    [
      ["dA", "rw"],
      ["a", "r"],
      ["yv", "r"],
      ["dO", "r"],
    ],
    [],
    `let x = a[i]; let y = yv[i]; let g = dO[i]; _ = x; _ = y; dA[i] += ${UNARY_GRAD[op]};`,
  );
}

const BINARY: Record<BinaryOp, string> = {
  add: "x + y",
  sub: "x - y",
  mul: "x * y",
  div: "x / y",
  min: "select(y, x, x <= y)",
  max: "select(y, x, x >= y)",
};

/** Gradients [ga, gb] of out = op(x, y) given g = dOut (ties of min/max go to a, as in the forward). */
const BINARY_GRAD: Record<BinaryOp, [string, string]> = {
  add: ["g", "g"],
  sub: ["g", "-g"],
  mul: ["g * y", "g * x"],
  div: ["g / y", "-g * x / (y * y)"],
  min: ["select(0.0, g, x <= y)", "select(g, 0.0, x <= y)"],
  max: ["select(0.0, g, x >= y)", "select(g, 0.0, x >= y)"],
};

/** p.bs = 1: b is a scalar broadcast over a. */
export function binary(op: BinaryOp): KernelSource {
  return elementwise(
    [
      ["o", "rw"],
      ["a", "r"],
      ["b", "r"],
    ],
    ["bs: u32"],
    `let x = a[i]; let y = b[select(i, 0u, p.bs == 1u)]; o[i] = ${BINARY[op]};`,
  );
}

/** Elementwise gradients; p.wa / p.wb say which of dA, dB to accumulate (the other is a dummy). */
export function binaryBackward(op: BinaryOp): KernelSource {
  const [ga, gb] = BINARY_GRAD[op];
  return elementwise(
    [
      ["dA", "rw"],
      ["dB", "rw"],
      ["a", "r"],
      ["b", "r"],
      ["dO", "r"],
    ],
    ["bs: u32", "wa: u32", "wb: u32"],
    `let x = a[i]; let y = b[select(i, 0u, p.bs == 1u)]; let g = dO[i]; _ = x; _ = y;
  if (p.wa == 1u) { dA[i] += ${ga}; }
  if (p.wb == 1u) { dB[i] += ${gb}; }`,
  );
}

/** dB[0] += sum_i gb(i) for a scalar b: one workgroup strides over the elements. */
export function binaryBackwardScalar(op: BinaryOp): KernelSource {
  const gb = BINARY_GRAD[op][1];
  return source(
    [
      ["dB", "rw"],
      ["a", "r"],
      ["b", "r"],
      ["dO", "r"],
    ],
    ["n: u32"],
    `${REDUCE}
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) li: u32) {
  let y = b[0];
  var s = 0.0;
  for (var i = li; i < p.n; i += 256u) { let x = a[i]; let g = dO[i]; _ = x; s += ${gb}; }
  let total = reduceSum(li, s);
  if (li == 0u) { dB[0] += total; }
}`,
  );
}

export const clamp = elementwise(
  [
    ["o", "rw"],
    ["a", "r"],
  ],
  ["lo: f32", "hi: f32"],
  "o[i] = clamp(a[i], p.lo, p.hi);",
);
export const clampBackward = elementwise(
  [
    ["dA", "rw"],
    ["a", "r"],
    ["dO", "r"],
  ],
  ["lo: f32", "hi: f32"],
  "let x = a[i]; if (x > p.lo && x < p.hi) { dA[i] += dO[i]; }",
);
export const affine = elementwise(
  [
    ["o", "rw"],
    ["a", "r"],
  ],
  ["s: f32", "t: f32"],
  "o[i] = a[i] * p.s + p.t;",
);
export const axpy = elementwise(
  [
    ["y", "rw"],
    ["x", "r"],
  ],
  ["alpha: f32"],
  "y[i] += p.alpha * x[i];",
);
export const fill = elementwise([["o", "rw"]], ["v: f32"], "o[i] = p.v;");

/** out[r] = sum_c a[r, c]: one workgroup per row. */
export const sumRows = source(
  [
    ["o", "rw"],
    ["a", "r"],
  ],
  ["rows: u32", "cols: u32"],
  `${REDUCE}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nw: vec3u, @builtin(local_invocation_index) li: u32) {
  let r = wid(wg, nw);
  if (r >= p.rows) { return; }
  var s = 0.0;
  for (var c = li; c < p.cols; c += 256u) { s += a[r * p.cols + c]; }
  let total = reduceSum(li, s);
  if (li == 0u) { o[r] = total; }
}`,
);

/** out[c] += sum_r a[r, c]: one thread per column. */
export const sumRowsAcc = elementwise(
  [
    ["o", "rw"],
    ["a", "r"],
  ],
  ["rows: u32"],
  "var s = 0.0; for (var r = 0u; r < p.rows; r++) { s += a[r * p.n + i]; } o[i] += s;",
);

export const addRowVector = elementwise(
  [
    ["o", "rw"],
    ["a", "r"],
    ["v", "r"],
  ],
  ["cols: u32"],
  "o[i] = a[i] + v[i % p.cols];",
);

export const broadcastRows = elementwise(
  [
    ["o", "rw"],
    ["s", "r"],
  ],
  ["cols: u32", "acc: u32"],
  "let v = s[i / p.cols]; if (p.acc == 1u) { o[i] += v; } else { o[i] = v; }",
);

// ---------------------------------------------------------------- matmul
/** C[M,N] = (acc ? C : 0) + op(A) op(B): 64x64 output tile per workgroup of 16x16 threads, each
 *  thread 4x4 outputs, K in steps of 16 through shared memory. Transposes change only the loads. */
export const matmul = source(
  [
    ["C", "rw"],
    ["A", "r"],
    ["B", "r"],
  ],
  ["M: u32", "N: u32", "K: u32", "transA: u32", "transB: u32", "acc: u32"],
  `
var<workgroup> As: array<array<f32, 64>, 16>;
var<workgroup> Bs: array<array<f32, 64>, 16>;
@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) l: vec3u) {
  let row0 = wg.y * 64u;
  let col0 = wg.x * 64u;
  let tid = l.y * 16u + l.x;
  var acc: array<array<f32, 4>, 4>;
  for (var k0 = 0u; k0 < p.K; k0 += 16u) {
    for (var t = 0u; t < 4u; t++) {
      let idx = tid + t * 256u;
      let ar = idx / 16u; let ac = idx % 16u;
      let m = row0 + ar; let ka = k0 + ac;
      var av = 0.0;
      if (m < p.M && ka < p.K) {
        if (p.transA == 1u) { av = A[ka * p.M + m]; } else { av = A[m * p.K + ka]; }
      }
      As[ac][ar] = av;
      let br = idx / 64u; let bc = idx % 64u;
      let kb = k0 + br; let n = col0 + bc;
      var bv = 0.0;
      if (kb < p.K && n < p.N) {
        if (p.transB == 1u) { bv = B[n * p.K + kb]; } else { bv = B[kb * p.N + n]; }
      }
      Bs[br][bc] = bv;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < 16u; kk++) {
      var a: array<f32, 4>; var b: array<f32, 4>;
      for (var i = 0u; i < 4u; i++) { a[i] = As[kk][l.y * 4u + i]; b[i] = Bs[kk][l.x * 4u + i]; }
      for (var i = 0u; i < 4u; i++) { for (var j = 0u; j < 4u; j++) { acc[i][j] = fma(a[i], b[j], acc[i][j]); } }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    for (var j = 0u; j < 4u; j++) {
      let m = row0 + l.y * 4u + i;
      let n = col0 + l.x * 4u + j;
      if (m < p.M && n < p.N) {
        let o = m * p.N + n;
        var c = acc[i][j];
        if (p.acc == 1u) { c += C[o]; }
        C[o] = c;
      }
    }
  }
}`,
);

// ---------------------------------------------------------------- transformer layers
export const embedding = elementwise(
  [
    ["o", "rw"],
    ["table", "r"],
    ["ids", "ri"],
  ],
  ["dim: u32"],
  "let r = i / p.dim; o[i] = table[u32(ids[r]) * p.dim + i % p.dim];",
);

/** One thread per column: rows that repeat an id add up in order, without atomics. */
export const embeddingBackward = elementwise(
  [
    ["dT", "rw"],
    ["ids", "ri"],
    ["dO", "r"],
  ],
  ["rows: u32"],
  "for (var r = 0u; r < p.rows; r++) { dT[u32(ids[r]) * p.n + i] += dO[r * p.n + i]; }",
);

export const rmsnorm = source(
  [
    ["y", "rw"],
    ["rstd", "rw"],
    ["x", "r"],
    ["w", "r"],
  ],
  ["rows: u32", "dim: u32", "eps: f32"],
  `${REDUCE}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nw: vec3u, @builtin(local_invocation_index) li: u32) {
  let r = wid(wg, nw);
  if (r >= p.rows) { return; }
  let o = r * p.dim;
  var ss = 0.0;
  for (var c = li; c < p.dim; c += 256u) { ss += x[o + c] * x[o + c]; }
  let rs = 1.0 / sqrt(reduceSum(li, ss) / f32(p.dim) + p.eps);
  if (li == 0u) { rstd[r] = rs; }
  for (var c = li; c < p.dim; c += 256u) { y[o + c] = x[o + c] * rs * w[c]; }
}`,
);

/** dx part of the rmsnorm gradient, one workgroup per row. */
export const rmsnormBackwardX = source(
  [
    ["dx", "rw"],
    ["dy", "r"],
    ["x", "r"],
    ["w", "r"],
    ["rstd", "r"],
  ],
  ["rows: u32", "dim: u32"],
  `${REDUCE}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nw: vec3u, @builtin(local_invocation_index) li: u32) {
  let r = wid(wg, nw);
  if (r >= p.rows) { return; }
  let o = r * p.dim;
  let rs = rstd[r];
  var dot = 0.0;
  for (var c = li; c < p.dim; c += 256u) { dot += dy[o + c] * w[c] * x[o + c]; }
  let k = rs * rs * rs * reduceSum(li, dot) / f32(p.dim);
  for (var c = li; c < p.dim; c += 256u) { dx[o + c] += rs * dy[o + c] * w[c] - k * x[o + c]; }
}`,
);

/** dw part: one thread per column, summing over rows. */
export const rmsnormBackwardW = elementwise(
  [
    ["dw", "rw"],
    ["dy", "r"],
    ["x", "r"],
    ["rstd", "r"],
  ],
  ["rows: u32"],
  "var s = 0.0; for (var r = 0u; r < p.rows; r++) { let o = r * p.n + i; s += dy[o] * x[o] * rstd[r]; } dw[i] += s;",
);

/** Rotary embedding with cos/sin looked up in a host-computed table [positions, D/2] (GPU sin/cos
 *  of large angles are imprecise). One thread per (row, head, i < D/2); sign = -1 rotates back. */
export const rope = elementwise(
  [
    ["o", "rw"],
    ["x", "r"],
    ["pos", "ri"],
    ["cosT", "r"],
    ["sinT", "r"],
  ],
  ["H: u32", "D: u32", "sign: f32"],
  `let half = p.D / 2u;
  let k = i % half; let rh = i / half;
  let r = rh / p.H;
  let t = u32(pos[r]) * half + k;
  let c = cosT[t]; let s = p.sign * sinT[t];
  let base = rh * p.D;
  let x1 = x[base + k]; let x2 = x[base + k + half];
  o[base + k] = x1 * c - x2 * s;
  o[base + k + half] = x2 * c + x1 * s;`,
);

const ATT_FIELDS = ["B: u32", "Tq: u32", "Tk: u32", "Hq: u32", "Hkv: u32", "D: u32", "scale: f32"];

/** Fused causal attention, one workgroup of 64 threads per (b, i, h) query row: keys in chunks of 64
 *  (one score per thread), an online softmax, each thread owning output dims t, t+64, ... (D <= 256).
 *  Grouped KV heads index k/v by h / (Hq / Hkv); pos0[b] offsets the queries (KV-cache decoding). */
export const attention = source(
  [
    ["o", "rw"],
    ["lse", "rw"],
    ["q", "r"],
    ["k", "r"],
    ["v", "r"],
    ["pos0", "ri"],
  ],
  ATT_FIELDS,
  `
var<workgroup> qs: array<f32, 256>;
var<workgroup> pr: array<f32, 64>;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nw: vec3u, @builtin(local_invocation_index) t: u32) {
  let row = wid(wg, nw);
  if (row >= p.B * p.Tq * p.Hq) { return; }
  let h = row % p.Hq; let bi = row / p.Hq; let i = bi % p.Tq; let b = bi / p.Tq;
  let hk = h / (p.Hq / p.Hkv);
  let last = u32(pos0[b]) + i;
  let qo = row * p.D;
  for (var d = t; d < p.D; d += 64u) { qs[d] = q[qo + d]; }
  workgroupBarrier();
  var m = -1e30; var l = 0.0;
  var acc: array<f32, 4>;
  for (var j0 = 0u; j0 <= last; j0 += 64u) {
    let j = j0 + t;
    var s = -1e30;
    if (j <= last) {
      let ko = ((b * p.Tk + j) * p.Hkv + hk) * p.D;
      var dot = 0.0;
      for (var d = 0u; d < p.D; d++) { dot += qs[d] * k[ko + d]; }
      s = dot * p.scale;
    }
    pr[t] = s;
    workgroupBarrier();
    var cm = m;
    for (var u = 0u; u < 64u; u++) { cm = max(cm, pr[u]); }
    workgroupBarrier();
    pr[t] = select(0.0, exp(s - cm), j <= last);
    workgroupBarrier();
    let alpha = exp(m - cm);
    var ps = 0.0;
    for (var u = 0u; u < 64u; u++) { ps += pr[u]; }
    l = l * alpha + ps;
    let nj = min(64u, last + 1u - j0);
    for (var dd = 0u; dd < 4u; dd++) {
      let d = t + dd * 64u;
      if (d >= p.D) { break; }
      var a = acc[dd] * alpha;
      for (var u = 0u; u < nj; u++) { a += pr[u] * v[((b * p.Tk + j0 + u) * p.Hkv + hk) * p.D + d]; }
      acc[dd] = a;
    }
    m = cm;
    workgroupBarrier();
  }
  for (var dd = 0u; dd < 4u; dd++) {
    let d = t + dd * 64u;
    if (d < p.D) { o[qo + d] = acc[dd] / l; }
  }
  if (t == 0u) { lse[(b * p.Hq + h) * p.Tq + i] = m + log(l); }
}`,
);

/** delta[row] = dOut_row . out_row, the softmax-backward correction of each query row. */
export const attentionDelta = elementwise(
  [
    ["delta", "rw"],
    ["dO", "r"],
    ["o", "r"],
  ],
  ["D: u32"],
  "var s = 0.0; for (var d = 0u; d < p.D; d++) { s += dO[i * p.D + d] * o[i * p.D + d]; } delta[i] = s;",
);

/** dq of causal attention (training: Tq = Tk, pos0 = 0), one workgroup per query row. */
export const attentionBackwardQ = source(
  [
    ["dq", "rw"],
    ["dO", "r"],
    ["q", "r"],
    ["k", "r"],
    ["v", "r"],
    ["lse", "r"],
    ["delta", "r"],
  ],
  ATT_FIELDS,
  `
var<workgroup> qs: array<f32, 256>;
var<workgroup> gs: array<f32, 256>;
var<workgroup> ds: array<f32, 64>;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nw: vec3u, @builtin(local_invocation_index) t: u32) {
  let row = wid(wg, nw);
  if (row >= p.B * p.Tq * p.Hq) { return; }
  let h = row % p.Hq; let bi = row / p.Hq; let i = bi % p.Tq; let b = bi / p.Tq;
  let hk = h / (p.Hq / p.Hkv);
  let qo = row * p.D;
  for (var d = t; d < p.D; d += 64u) { qs[d] = q[qo + d]; gs[d] = dO[qo + d]; }
  workgroupBarrier();
  let l = lse[(b * p.Hq + h) * p.Tq + i];
  let di = delta[row];
  var acc: array<f32, 4>;
  for (var j0 = 0u; j0 <= i; j0 += 64u) {
    let j = j0 + t;
    var g = 0.0;
    if (j <= i) {
      let ko = ((b * p.Tk + j) * p.Hkv + hk) * p.D;
      var s = 0.0; var dp = 0.0;
      for (var d = 0u; d < p.D; d++) { s += qs[d] * k[ko + d]; dp += gs[d] * v[ko + d]; }
      g = exp(s * p.scale - l) * (dp - di) * p.scale;
    }
    ds[t] = g;
    workgroupBarrier();
    let nj = min(64u, i + 1u - j0);
    for (var dd = 0u; dd < 4u; dd++) {
      let d = t + dd * 64u;
      if (d >= p.D) { break; }
      var a = acc[dd];
      for (var u = 0u; u < nj; u++) { a += ds[u] * k[((b * p.Tk + j0 + u) * p.Hkv + hk) * p.D + d]; }
      acc[dd] = a;
    }
    workgroupBarrier();
  }
  for (var dd = 0u; dd < 4u; dd++) {
    let d = t + dd * 64u;
    if (d < p.D) { dq[qo + d] += acc[dd]; }
  }
}`,
);

/** dk and dv, one workgroup per key row (b, j, kv head): sums over the heads of its group and the
 *  queries i >= j, so no two workgroups write the same element. */
export const attentionBackwardKV = source(
  [
    ["dk", "rw"],
    ["dv", "rw"],
    ["dO", "r"],
    ["q", "r"],
    ["k", "r"],
    ["v", "r"],
    ["lse", "r"],
    ["delta", "r"],
  ],
  ATT_FIELDS,
  `
var<workgroup> ks: array<f32, 256>;
var<workgroup> vs: array<f32, 256>;
var<workgroup> pp: array<f32, 64>;
var<workgroup> ds: array<f32, 64>;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nw: vec3u, @builtin(local_invocation_index) t: u32) {
  let row = wid(wg, nw);
  if (row >= p.B * p.Tk * p.Hkv) { return; }
  let hk = row % p.Hkv; let bj = row / p.Hkv; let j = bj % p.Tk; let b = bj / p.Tk;
  let group = p.Hq / p.Hkv;
  let ko = row * p.D;
  for (var d = t; d < p.D; d += 64u) { ks[d] = k[ko + d]; vs[d] = v[ko + d]; }
  workgroupBarrier();
  var accK: array<f32, 4>;
  var accV: array<f32, 4>;
  for (var h = hk * group; h < (hk + 1u) * group; h++) {
    for (var i0 = j; i0 < p.Tq; i0 += 64u) {
      let i = i0 + t;
      var pij = 0.0; var g = 0.0;
      if (i < p.Tq) {
        let qrow = (b * p.Tq + i) * p.Hq + h;
        let qo = qrow * p.D;
        var s = 0.0; var dp = 0.0;
        for (var d = 0u; d < p.D; d++) { s += q[qo + d] * ks[d]; dp += dO[qo + d] * vs[d]; }
        pij = exp(s * p.scale - lse[(b * p.Hq + h) * p.Tq + i]);
        g = pij * (dp - delta[qrow]) * p.scale;
      }
      pp[t] = pij; ds[t] = g;
      workgroupBarrier();
      let ni = min(64u, p.Tq - i0);
      for (var dd = 0u; dd < 4u; dd++) {
        let d = t + dd * 64u;
        if (d >= p.D) { break; }
        var ak = accK[dd]; var av = accV[dd];
        for (var u = 0u; u < ni; u++) {
          let qo = ((b * p.Tq + i0 + u) * p.Hq + h) * p.D + d;
          ak += ds[u] * q[qo];
          av += pp[u] * dO[qo];
        }
        accK[dd] = ak; accV[dd] = av;
      }
      workgroupBarrier();
    }
  }
  for (var dd = 0u; dd < 4u; dd++) {
    let d = t + dd * 64u;
    if (d < p.D) { dk[ko + d] += accK[dd]; dv[ko + d] += accV[dd]; }
  }
}`,
);

export const swiglu = elementwise(
  [
    ["o", "rw"],
    ["gate", "r"],
    ["up", "r"],
  ],
  [],
  "let g = gate[i]; o[i] = g / (1.0 + exp(-g)) * up[i];",
);

export const swigluBackward = elementwise(
  [
    ["dG", "rw"],
    ["dU", "rw"],
    ["gate", "r"],
    ["up", "r"],
    ["dO", "r"],
  ],
  [],
  `let g = gate[i]; let s = 1.0 / (1.0 + exp(-g));
  dU[i] += dO[i] * g * s;
  dG[i] += dO[i] * up[i] * s * (1.0 + g * (1.0 - s));`,
);

// ---------------------------------------------------------------- vocabulary statistics
/** Per row of logits: (log p(target), entropy, self-certainty) and lse, one workgroup per row. */
export const tokenStats = source(
  [
    ["o", "rw"],
    ["lse", "rw"],
    ["z", "r"],
    ["targets", "ri"],
  ],
  ["N: u32", "V: u32"],
  `${REDUCE}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nw: vec3u, @builtin(local_invocation_index) li: u32) {
  let r = wid(wg, nw);
  if (r >= p.N) { return; }
  let base = r * p.V;
  var mx = -3.4e38; var sz = 0.0;
  for (var j = li; j < p.V; j += 256u) { mx = max(mx, z[base + j]); sz += z[base + j]; }
  let m = reduceMax(li, mx);
  let mean = reduceSum(li, sz) / f32(p.V);
  var s = 0.0; var se = 0.0;
  for (var j = li; j < p.V; j += 256u) { let c = z[base + j] - m; let e = exp(c); s += e; se += e * c; }
  let S = reduceSum(li, s);
  let SE = reduceSum(li, se);
  if (li == 0u) {
    let l = m + log(S);
    lse[r] = l;
    let t = targets[r];
    var lp = 0.0;
    if (t >= 0) { lp = z[base + u32(t)] - l; }
    o[r * 3u] = lp;
    o[r * 3u + 1u] = log(S) - SE / S;
    o[r * 3u + 2u] = l - mean - log(f32(p.V));
  }
}`,
);

export const tokenStatsBackward = source(
  [
    ["dz", "rw"],
    ["dO", "r"],
    ["z", "r"],
    ["lse", "r"],
    ["targets", "ri"],
  ],
  ["N: u32", "V: u32"],
  `${REDUCE}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nw: vec3u, @builtin(local_invocation_index) li: u32) {
  let r = wid(wg, nw);
  if (r >= p.N) { return; }
  let base = r * p.V;
  let t = targets[r];
  var gL = 0.0;
  if (t >= 0) { gL = dO[r * 3u]; }
  let gH = dO[r * 3u + 1u];
  let gS = dO[r * 3u + 2u];
  let l = lse[r];
  var h = 0.0;
  for (var j = li; j < p.V; j += 256u) { let lp = z[base + j] - l; h -= exp(lp) * lp; }
  let H = reduceSum(li, h);
  let invV = 1.0 / f32(p.V);
  for (var j = li; j < p.V; j += 256u) {
    let lp = z[base + j] - l;
    let pj = exp(lp);
    var g = -gL * pj + gS * (pj - invV) - gH * pj * (lp + H);
    if (i32(j) == t) { g += gL; }
    dz[base + j] += g;
  }
}`,
);

// ---------------------------------------------------------------- optimiser
/** AdamW step; bias corrections bc1 = 1 - beta1^step, bc2 = 1 - beta2^step come from the host. */
export const adamw = elementwise(
  [
    ["w", "rw"],
    ["m", "rw"],
    ["v", "rw"],
    ["g", "r"],
  ],
  ["lr: f32", "b1: f32", "b2: f32", "eps: f32", "wd: f32", "bc1: f32", "bc2: f32"],
  `let gi = g[i];
  let mi = p.b1 * m[i] + (1.0 - p.b1) * gi;
  let vi = p.b2 * v[i] + (1.0 - p.b2) * gi * gi;
  m[i] = mi; v[i] = vi;
  w[i] = w[i] * (1.0 - p.lr * p.wd) - p.lr * (mi / p.bc1) / (sqrt(vi / p.bc2) + p.eps);`,
);

/** out[0] (+)= sum_i a[i]^2 in one workgroup (gradient norms; a few per step). */
export const sumSquares = source(
  [
    ["o", "rw"],
    ["a", "r"],
  ],
  ["n: u32", "slot: u32"],
  `${REDUCE}
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) li: u32) {
  var s = 0.0;
  for (var i = li; i < p.n; i += 256u) { s += a[i] * a[i]; }
  let total = reduceSum(li, s);
  if (li == 0u) { o[p.slot] = total; }
}`,
);
