// Elementwise and broadcast kernels of the op set (binary/unary ops and their gradients, affine,
// row-vector broadcasts and reductions, rotary embedding, embedding lookup). They are memory-bound;
// SIMD and no per-element dispatch make them 10-30x faster than the TypeScript loops.
// Op codes follow the order of the BinaryOp / UnaryOp unions in backend.ts (see wasm-backend.ts).

import { exp4, sigmoid4 } from "./simd";

@inline
function range0(n: i32, t: i32, nt: i32): i32 {
  return (((n >> 2) * t) / nt) << 2;
}
@inline
function range1(n: i32, t: i32, nt: i32): i32 {
  return t == nt - 1 ? n : (((n >> 2) * (t + 1)) / nt) << 2;
}

@inline
function bin4(op: i32, x: v128, y: v128): v128 {
  switch (op) {
    case 0:
      return f32x4.add(x, y);
    case 1:
      return f32x4.sub(x, y);
    case 2:
      return f32x4.mul(x, y);
    case 3:
      return f32x4.div(x, y);
    case 4:
      return v128.bitselect(x, y, f32x4.le(x, y)); // ties and NaN as the reference: x <= y ? x : y
    default:
      return v128.bitselect(x, y, f32x4.ge(x, y));
  }
}
@inline
function bin1(op: i32, x: f32, y: f32): f32 {
  switch (op) {
    case 0:
      return x + y;
    case 1:
      return x - y;
    case 2:
      return x * y;
    case 3:
      return x / y;
    case 4:
      return x <= y ? x : y;
    default:
      return x >= y ? x : y;
  }
}

/** out = a op b, b of the same size (bScalar = 0) or one float broadcast (bScalar = 1). */
export function binary(t: i32, nt: i32, op: i32, out: usize, a: usize, b: usize, n: i32, bScalar: i32): void {
  const i0 = range0(n, t, nt);
  const i1 = range1(n, t, nt);
  const i4 = i0 + ((i1 - i0) & ~3);
  // One loop per op: the switch is resolved outside the loop after inlining.
  for (let o = 0; o < 6; o++) {
    if (o != op) continue;
    if (bScalar) {
      const y1 = load<f32>(b);
      const y = f32x4.splat(y1);
      for (let i = i0; i < i4; i += 4) {
        const p = <usize>i << 2;
        v128.store(out + p, bin4(o, v128.load(a + p), y));
      }
      for (let i = i4; i < i1; i++) {
        const p = <usize>i << 2;
        store<f32>(out + p, bin1(o, load<f32>(a + p), y1));
      }
    } else {
      for (let i = i0; i < i4; i += 4) {
        const p = <usize>i << 2;
        v128.store(out + p, bin4(o, v128.load(a + p), v128.load(b + p)));
      }
      for (let i = i4; i < i1; i++) {
        const p = <usize>i << 2;
        store<f32>(out + p, bin1(o, load<f32>(a + p), load<f32>(b + p)));
      }
    }
  }
}

/** Gradients of a binary op with b of the same size; dA / dB = 0 means "not wanted". */
export function binaryBackward(t: i32, nt: i32, op: i32, dA: usize, dB: usize, a: usize, b: usize, dOut: usize, n: i32): void {
  const i0 = range0(n, t, nt);
  const i1 = range1(n, t, nt);
  for (let i = i0; i < i1; i += 4) {
    const p = <usize>i << 2;
    if (i + 4 <= i1) {
      const g = v128.load(dOut + p);
      const x = v128.load(a + p);
      const y = v128.load(b + p);
      let ga = g;
      let gb = g;
      if (op == 1) gb = f32x4.neg(g);
      else if (op == 2) {
        ga = f32x4.mul(g, y);
        gb = f32x4.mul(g, x);
      } else if (op == 3) {
        ga = f32x4.div(g, y);
        gb = f32x4.div(f32x4.mul(f32x4.neg(g), x), f32x4.mul(y, y));
      } else if (op >= 4) {
        const toA = op == 4 ? f32x4.le(x, y) : f32x4.ge(x, y);
        ga = v128.and(g, toA);
        gb = v128.andnot(g, toA);
      }
      if (dA) v128.store(dA + p, f32x4.add(v128.load(dA + p), ga));
      if (dB) v128.store(dB + p, f32x4.add(v128.load(dB + p), gb));
    } else {
      for (let j = i; j < i1; j++) {
        const q = <usize>j << 2;
        const g = load<f32>(dOut + q);
        const x = load<f32>(a + q);
        const y = load<f32>(b + q);
        let ga = g;
        let gb = g;
        if (op == 1) gb = -g;
        else if (op == 2) {
          ga = g * y;
          gb = g * x;
        } else if (op == 3) {
          ga = g / y;
          gb = (-g * x) / (y * y);
        } else if (op >= 4) {
          const toA = op == 4 ? x <= y : x >= y;
          ga = toA ? g : 0;
          gb = toA ? 0 : g;
        }
        if (dA) store<f32>(dA + q, load<f32>(dA + q) + ga);
        if (dB) store<f32>(dB + q, load<f32>(dB + q) + gb);
      }
    }
  }
}

@inline
function un4(op: i32, x: v128): v128 {
  switch (op) {
    case 0:
      return f32x4.neg(x);
    case 1:
      return exp4(x);
    case 3:
      return f32x4.mul(x, x);
    case 4:
      return f32x4.sqrt(x);
    case 5:
      return v128.and(x, f32x4.gt(x, f32x4.splat(0)));
    case 6:
      return sigmoid4(x);
    case 7:
      return f32x4.mul(x, sigmoid4(x));
    default:
      return f32x4.abs(x);
  }
}

/** out = op(a) for every unary op but log (code 2), which stays in the reference. */
export function unary(t: i32, nt: i32, op: i32, out: usize, a: usize, n: i32): void {
  const i0 = range0(n, t, nt);
  const i1 = range1(n, t, nt);
  for (let o = 0; o < 9; o++) {
    if (o != op || o == 2) continue;
    for (let i = i0; i < i1; i += 4) {
      const p = <usize>i << 2;
      if (i + 4 <= i1) v128.store(out + p, un4(o, v128.load(a + p)));
      else
        for (let j = i; j < i1; j++) {
          const q = <usize>j << 2;
          store<f32>(out + q, f32x4.extract_lane(un4(o, f32x4.splat(load<f32>(a + q))), 0));
        }
    }
  }
}

@inline
function dun4(op: i32, x: v128, y: v128, g: v128): v128 {
  switch (op) {
    case 0:
      return f32x4.neg(g);
    case 1:
      return f32x4.mul(g, y);
    case 2:
      return f32x4.div(g, x);
    case 3:
      return f32x4.mul(f32x4.add(x, x), g);
    case 4:
      return f32x4.div(g, f32x4.add(y, y));
    case 5:
      return v128.and(g, f32x4.gt(x, f32x4.splat(0)));
    case 6:
      return f32x4.mul(f32x4.mul(g, y), f32x4.sub(f32x4.splat(1), y));
    case 7: {
      const s = sigmoid4(x);
      const one = f32x4.splat(1);
      return f32x4.mul(f32x4.mul(g, s), f32x4.add(one, f32x4.mul(x, f32x4.sub(one, s))));
    }
    default: {
      const zero = f32x4.splat(0);
      return v128.or(v128.and(g, f32x4.gt(x, zero)), v128.and(f32x4.neg(g), f32x4.lt(x, zero)));
    }
  }
}

/** dA += dOut * op'(a) (y = op(a)). */
export function unaryBackward(t: i32, nt: i32, op: i32, dA: usize, a: usize, y: usize, dOut: usize, n: i32): void {
  const i0 = range0(n, t, nt);
  const i1 = range1(n, t, nt);
  for (let o = 0; o < 9; o++) {
    if (o != op) continue;
    for (let i = i0; i < i1; i += 4) {
      const p = <usize>i << 2;
      if (i + 4 <= i1)
        v128.store(dA + p, f32x4.add(v128.load(dA + p), dun4(o, v128.load(a + p), v128.load(y + p), v128.load(dOut + p))));
      else
        for (let j = i; j < i1; j++) {
          const q = <usize>j << 2;
          const d = dun4(o, f32x4.splat(load<f32>(a + q)), f32x4.splat(load<f32>(y + q)), f32x4.splat(load<f32>(dOut + q)));
          store<f32>(dA + q, load<f32>(dA + q) + f32x4.extract_lane(d, 0));
        }
    }
  }
}

/** out = a * s + u */
export function affine(t: i32, nt: i32, out: usize, a: usize, s: f32, u: f32, n: i32): void {
  const i0 = range0(n, t, nt);
  const i1 = range1(n, t, nt);
  const i4 = i0 + ((i1 - i0) & ~3);
  const sv = f32x4.splat(s);
  const uv = f32x4.splat(u);
  for (let i = i0; i < i4; i += 4) {
    const p = <usize>i << 2;
    v128.store(out + p, f32x4.add(f32x4.mul(v128.load(a + p), sv), uv));
  }
  for (let i = i4; i < i1; i++) {
    const p = <usize>i << 2;
    store<f32>(out + p, load<f32>(a + p) * s + u);
  }
}

/** out[r, c] = a[r, c] + bias[c] (rows split across threads). */
export function addRowVector(t: i32, nt: i32, out: usize, a: usize, bias: usize, rows: i32, cols: i32): void {
  const r0 = (rows * t) / nt;
  const r1 = (rows * (t + 1)) / nt;
  const c4 = cols & ~3;
  for (let r = r0; r < r1; r++) {
    const o = <usize>r * cols << 2;
    for (let c = 0; c < c4; c += 4) {
      const p = <usize>c << 2;
      v128.store(out + o + p, f32x4.add(v128.load(a + o + p), v128.load(bias + p)));
    }
    for (let c = c4; c < cols; c++) {
      const p = <usize>c << 2;
      store<f32>(out + o + p, load<f32>(a + o + p) + load<f32>(bias + p));
    }
  }
}

/** out[c] += sum_r a[r, c] (columns split across threads, so no two threads write one float). */
export function sumRowsAcc(t: i32, nt: i32, out: usize, a: usize, rows: i32, cols: i32): void {
  const c0 = range0(cols, t, nt);
  const c1 = range1(cols, t, nt);
  const c4 = c0 + ((c1 - c0) & ~3);
  for (let r = 0; r < rows; r++) {
    const o = <usize>r * cols << 2;
    for (let c = c0; c < c4; c += 4) {
      const p = <usize>c << 2;
      v128.store(out + p, f32x4.add(v128.load(out + p), v128.load(a + o + p)));
    }
    for (let c = c4; c < c1; c++) {
      const p = <usize>c << 2;
      store<f32>(out + p, load<f32>(out + p) + load<f32>(a + o + p));
    }
  }
}

/** out[r] = sum_c a[r, c], accumulated in float64 as the reference does. */
export function sumRows(t: i32, nt: i32, out: usize, a: usize, rows: i32, cols: i32): void {
  const r0 = (rows * t) / nt;
  const r1 = (rows * (t + 1)) / nt;
  for (let r = r0; r < r1; r++) store<f32>(out + (<usize>r << 2), <f32>sumF64(a + (<usize>r * cols << 2), cols, false));
}

/** sum of a[0..n) (or of its squares), in float64. */
export function sumF64(a: usize, n: i32, squares: bool): f64 {
  let s0 = f64x2.splat(0);
  let s1 = s0;
  const n4 = n & ~3;
  for (let i = 0; i < n4; i += 4) {
    const v = v128.load(a + (<usize>i << 2));
    let lo = f64x2.promote_low_f32x4(v);
    let hi = f64x2.promote_low_f32x4(i32x4.shuffle(v, v, 2, 3, 0, 1));
    if (squares) {
      lo = f64x2.mul(lo, lo);
      hi = f64x2.mul(hi, hi);
    }
    s0 = f64x2.add(s0, lo);
    s1 = f64x2.add(s1, hi);
  }
  const s = f64x2.add(s0, s1);
  let r = f64x2.extract_lane(s, 0) + f64x2.extract_lane(s, 1);
  for (let i = n4; i < n; i++) {
    const v = <f64>load<f32>(a + (<usize>i << 2));
    r += squares ? v * v : v;
  }
  return r;
}

/** out[r, c] (+)= s[r] */
export function broadcastRows(t: i32, nt: i32, out: usize, s: usize, rows: i32, cols: i32, acc: i32): void {
  const r0 = (rows * t) / nt;
  const r1 = (rows * (t + 1)) / nt;
  const c4 = cols & ~3;
  for (let r = r0; r < r1; r++) {
    const o = out + (<usize>r * cols << 2);
    const v1 = load<f32>(s + (<usize>r << 2));
    const v = f32x4.splat(v1);
    for (let c = 0; c < c4; c += 4) {
      const p = o + (<usize>c << 2);
      v128.store(p, acc ? f32x4.add(v128.load(p), v) : v);
    }
    for (let c = c4; c < cols; c++) {
      const p = o + (<usize>c << 2);
      store<f32>(p, acc ? load<f32>(p) + v1 : v1);
    }
  }
}

/** Rotary embedding over [rows, H, D] with cos/sin from a table [position][D/2] (D/2 a multiple of 4).
 *  sign = -1 rotates backwards (the gradient). */
export function rope(
  t: i32,
  nt: i32,
  out: usize,
  x: usize,
  positions: usize,
  rows: i32,
  H: i32,
  D: i32,
  cosT: usize,
  sinT: usize,
  sign: f32,
): void {
  const r0 = (rows * t) / nt;
  const r1 = (rows * (t + 1)) / nt;
  const half = D >> 1;
  const hb = <usize>half << 2;
  const sg = f32x4.splat(sign);
  for (let r = r0; r < r1; r++) {
    const pos = load<i32>(positions + (<usize>r << 2));
    const ct = cosT + <usize>pos * hb;
    const st = sinT + <usize>pos * hb;
    for (let i = 0; i < half; i += 4) {
      const ib = <usize>i << 2;
      const c = v128.load(ct + ib);
      const s = f32x4.mul(v128.load(st + ib), sg);
      for (let h = 0; h < H; h++) {
        const o = (<usize>((r * H + h) * D) << 2) + ib;
        const x1 = v128.load(x + o);
        const x2 = v128.load(x + o + hb);
        v128.store(out + o, f32x4.sub(f32x4.mul(x1, c), f32x4.mul(x2, s)));
        v128.store(out + o + hb, f32x4.add(f32x4.mul(x2, c), f32x4.mul(x1, s)));
      }
    }
  }
}

/** out[r] = table[ids[r]] (rows of dim floats). */
export function embedding(t: i32, nt: i32, out: usize, table: usize, ids: usize, n: i32, dim: i32): void {
  const r0 = (n * t) / nt;
  const r1 = (n * (t + 1)) / nt;
  const rb = <usize>dim << 2;
  for (let r = r0; r < r1; r++) memory.copy(out + <usize>r * rb, table + <usize>load<i32>(ids + (<usize>r << 2)) * rb, rb);
}

/** dTable[ids[r]] += dOut[r]. Single thread: two rows may share an id. */
export function embeddingBackward(t: i32, nt: i32, dTable: usize, ids: usize, dOut: usize, n: i32, dim: i32): void {
  if (t != 0) return;
  const rb = <usize>dim << 2;
  const d4 = dim & ~3;
  for (let r = 0; r < n; r++) {
    const dst = dTable + <usize>load<i32>(ids + (<usize>r << 2)) * rb;
    const src = dOut + <usize>r * rb;
    for (let c = 0; c < d4; c += 4) {
      const p = <usize>c << 2;
      v128.store(dst + p, f32x4.add(v128.load(dst + p), v128.load(src + p)));
    }
    for (let c = d4; c < dim; c++) {
      const p = <usize>c << 2;
      store<f32>(dst + p, load<f32>(dst + p) + load<f32>(src + p));
    }
  }
}

export function sumAll(a: usize, n: i32): f64 {
  return sumF64(a, n, false);
}
export function sumSquares(a: usize, n: i32): f64 {
  return sumF64(a, n, true);
}
