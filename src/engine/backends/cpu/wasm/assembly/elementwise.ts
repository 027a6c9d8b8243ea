// Row and elementwise kernels that are memory-bound: RMSNorm, SwiGLU, AdamW, axpy.
// Elementwise ranges are split across threads on multiples of 4 floats.

import { hsum, madd, sigmoid4 } from "./simd";

@inline
function range0(n: i32, t: i32, nt: i32): i32 {
  return (((n >> 2) * t) / nt) << 2;
}
@inline
function range1(n: i32, t: i32, nt: i32): i32 {
  return t == nt - 1 ? n : (((n >> 2) * (t + 1)) / nt) << 2;
}

export function rmsnormForward(t: i32, nt: i32, y: usize, rstd: usize, x: usize, w: usize, rows: i32, dim: i32, eps: f32): void {
  const r0 = (rows * t) / nt;
  const r1 = (rows * (t + 1)) / nt;
  const d4 = dim & ~3;
  for (let r = r0; r < r1; r++) {
    const xr = x + (<usize>r * dim << 2);
    const yr = y + (<usize>r * dim << 2);
    let ss4 = f32x4.splat(0);
    for (let c = 0; c < d4; c += 4) {
      const v = v128.load(xr + (c << 2));
      ss4 = madd(v, v, ss4);
    }
    let ss = hsum(ss4);
    for (let c = d4; c < dim; c++) {
      const v = load<f32>(xr + (c << 2));
      ss += v * v;
    }
    const rs = <f32>1 / Mathf.sqrt(ss / <f32>dim + eps);
    store<f32>(rstd + (<usize>r << 2), rs);
    const rv = f32x4.splat(rs);
    for (let c = 0; c < d4; c += 4)
      v128.store(yr + (c << 2), f32x4.mul(f32x4.mul(v128.load(xr + (c << 2)), rv), v128.load(w + (c << 2))));
    for (let c = d4; c < dim; c++) store<f32>(yr + (c << 2), load<f32>(xr + (c << 2)) * rs * load<f32>(w + (c << 2)));
  }
}

/** dx rows are split across threads; dw columns too (each thread sums its columns over all rows),
 *  so no two threads write the same float. */
export function rmsnormBackward(
  t: i32,
  nt: i32,
  dx: usize,
  dw: usize,
  dy: usize,
  x: usize,
  w: usize,
  rstd: usize,
  rows: i32,
  dim: i32,
): void {
  const r0 = (rows * t) / nt;
  const r1 = (rows * (t + 1)) / nt;
  const d4 = dim & ~3;
  for (let r = r0; r < r1; r++) {
    const o = <usize>r * dim << 2;
    const rs = load<f32>(rstd + (<usize>r << 2));
    let dot4 = f32x4.splat(0);
    for (let c = 0; c < d4; c += 4) {
      const cc = <usize>c << 2;
      dot4 = madd(f32x4.mul(v128.load(dy + o + cc), v128.load(w + cc)), v128.load(x + o + cc), dot4);
    }
    let dot = hsum(dot4);
    for (let c = d4; c < dim; c++) {
      const cc = <usize>c << 2;
      dot += load<f32>(dy + o + cc) * load<f32>(w + cc) * load<f32>(x + o + cc);
    }
    const kk = (rs * rs * rs * dot) / <f32>dim;
    const rv = f32x4.splat(rs);
    const kv = f32x4.splat(kk);
    for (let c = 0; c < d4; c += 4) {
      const cc = <usize>c << 2;
      const g = f32x4.sub(f32x4.mul(f32x4.mul(rv, v128.load(dy + o + cc)), v128.load(w + cc)), f32x4.mul(kv, v128.load(x + o + cc)));
      v128.store(dx + o + cc, f32x4.add(v128.load(dx + o + cc), g));
    }
    for (let c = d4; c < dim; c++) {
      const cc = <usize>c << 2;
      store<f32>(dx + o + cc, load<f32>(dx + o + cc) + rs * load<f32>(dy + o + cc) * load<f32>(w + cc) - kk * load<f32>(x + o + cc));
    }
  }
  // dw[c] += sum_r dy[r, c] x[r, c] rstd[r] over this thread's columns.
  const c0 = range0(dim, t, nt);
  const c1 = range1(dim, t, nt);
  const c4 = c0 + ((c1 - c0) & ~3);
  for (let r = 0; r < rows; r++) {
    const o = <usize>r * dim << 2;
    const rs = load<f32>(rstd + (<usize>r << 2));
    const rv = f32x4.splat(rs);
    for (let c = c0; c < c4; c += 4) {
      const cc = <usize>c << 2;
      v128.store(dw + cc, madd(f32x4.mul(v128.load(dy + o + cc), v128.load(x + o + cc)), rv, v128.load(dw + cc)));
    }
    for (let c = c4; c < c1; c++) {
      const cc = <usize>c << 2;
      store<f32>(dw + cc, load<f32>(dw + cc) + load<f32>(dy + o + cc) * load<f32>(x + o + cc) * rs);
    }
  }
}

export function swigluForward(t: i32, nt: i32, out: usize, gate: usize, up: usize, n: i32): void {
  const i0 = range0(n, t, nt);
  const i1 = range1(n, t, nt);
  const i4 = i0 + ((i1 - i0) & ~3);
  for (let i = i0; i < i4; i += 4) {
    const o = <usize>i << 2;
    const g = v128.load(gate + o);
    v128.store(out + o, f32x4.mul(f32x4.mul(g, sigmoid4(g)), v128.load(up + o)));
  }
  for (let i = i4; i < i1; i++) {
    const o = <usize>i << 2;
    const g = load<f32>(gate + o);
    store<f32>(out + o, (g / (1 + Mathf.exp(-g))) * load<f32>(up + o));
  }
}

export function swigluBackward(t: i32, nt: i32, dGate: usize, dUp: usize, gate: usize, up: usize, dOut: usize, n: i32): void {
  const i0 = range0(n, t, nt);
  const i1 = range1(n, t, nt);
  const i4 = i0 + ((i1 - i0) & ~3);
  const one = f32x4.splat(1);
  for (let i = i0; i < i4; i += 4) {
    const o = <usize>i << 2;
    const g = v128.load(gate + o);
    const s = sigmoid4(g);
    const d = v128.load(dOut + o);
    v128.store(dUp + o, madd(d, f32x4.mul(g, s), v128.load(dUp + o)));
    // d silu/dg = s (1 + g (1 - s))
    const ds = f32x4.mul(s, madd(g, f32x4.sub(one, s), one));
    v128.store(dGate + o, madd(f32x4.mul(d, v128.load(up + o)), ds, v128.load(dGate + o)));
  }
  for (let i = i4; i < i1; i++) {
    const o = <usize>i << 2;
    const g = load<f32>(gate + o);
    const s = <f32>1 / (1 + Mathf.exp(-g));
    const d = load<f32>(dOut + o);
    store<f32>(dUp + o, load<f32>(dUp + o) + d * g * s);
    store<f32>(dGate + o, load<f32>(dGate + o) + d * load<f32>(up + o) * s * (1 + g * (1 - s)));
  }
}

export function adamw(
  t: i32,
  nt: i32,
  param: usize,
  grad: usize,
  m: usize,
  v: usize,
  n: i32,
  lr: f32,
  beta1: f32,
  beta2: f32,
  eps: f32,
  weightDecay: f32,
  bc1: f32,
  bc2: f32,
): void {
  const i0 = range0(n, t, nt);
  const i1 = range1(n, t, nt);
  const i4 = i0 + ((i1 - i0) & ~3);
  const b1 = f32x4.splat(beta1);
  const b2 = f32x4.splat(beta2);
  const c1 = f32x4.splat(1 - beta1);
  const c2 = f32x4.splat(1 - beta2);
  const ib1 = f32x4.splat(1 / bc1);
  const ib2 = f32x4.splat(1 / bc2);
  const decay = f32x4.splat(1 - lr * weightDecay);
  const lrv = f32x4.splat(lr);
  const ev = f32x4.splat(eps);
  for (let i = i0; i < i4; i += 4) {
    const o = <usize>i << 2;
    const g = v128.load(grad + o);
    const mm = f32x4.add(f32x4.mul(b1, v128.load(m + o)), f32x4.mul(c1, g));
    const vv = f32x4.add(f32x4.mul(b2, v128.load(v + o)), f32x4.mul(f32x4.mul(c2, g), g));
    v128.store(m + o, mm);
    v128.store(v + o, vv);
    const den = f32x4.add(f32x4.sqrt(f32x4.mul(vv, ib2)), ev);
    const step = f32x4.div(f32x4.mul(lrv, f32x4.mul(mm, ib1)), den);
    v128.store(param + o, f32x4.sub(f32x4.mul(v128.load(param + o), decay), step));
  }
  for (let i = i4; i < i1; i++) {
    const o = <usize>i << 2;
    const g = load<f32>(grad + o);
    const mm = beta1 * load<f32>(m + o) + (1 - beta1) * g;
    const vv = beta2 * load<f32>(v + o) + (1 - beta2) * g * g;
    store<f32>(m + o, mm);
    store<f32>(v + o, vv);
    const step = (lr * (mm / bc1)) / (Mathf.sqrt(vv / bc2) + eps);
    store<f32>(param + o, load<f32>(param + o) * (1 - lr * weightDecay) - step);
  }
}

export function axpy(t: i32, nt: i32, y: usize, x: usize, alpha: f32, n: i32): void {
  const i0 = range0(n, t, nt);
  const i1 = range1(n, t, nt);
  const i4 = i0 + ((i1 - i0) & ~3);
  const a = f32x4.splat(alpha);
  for (let i = i0; i < i4; i += 4) {
    const o = <usize>i << 2;
    v128.store(y + o, madd(a, v128.load(x + o), v128.load(y + o)));
  }
  for (let i = i4; i < i1; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, load<f32>(y + o) + alpha * load<f32>(x + o));
  }
}
