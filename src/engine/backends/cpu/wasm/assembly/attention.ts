// Causal grouped-query attention, forward (with per-sequence start positions, so it also serves
// KV-cache decoding) and backward (training: pos0 = 0, Tq = Tk).
// Layouts as in backend.ts: q/out [B, Tq, Hq, D], k/v [B, Tk, Hkv, D], lse [B, Hq, Tq].
//
// Work unit: one (sequence b, key/value head hk) pair with all the query heads of its group, so
// threads never write the same dk/dv rows and decoding (Tq = 1) still fills blocks with the group's
// heads. The unit's query rows (h, i) are taken four at a time and every product is a small
// matmul run by a 4x8 register-blocked kernel, as in matmul.ts:
//   S = Q K^T       (kernel A, K transposed once per unit into a [D][n8] panel)
//   out = P V       (kernel B, V read in place)
// and in the backward, with P and dS kept for the whole unit ([rows][n8] in scratch):
//   dP = dO V^T (A), dQ += dS K (B), dV += P^T dO and dK += dS^T Q (kernel C).
// D must be a multiple of 4 (the JS side falls back to the reference otherwise).

import { exp4, hmax, hsum, madd } from "./simd";

@inline
function ceil4(n: i32): i32 {
  return (n + 3) & ~3;
}
@inline
function ceil8(n: i32): i32 {
  return (n + 7) & ~7;
}

/** Scratch bytes one thread needs for a unit of `rows` query rows over `n` keys, head size D. */
export function attentionScratchBytes(rows: i32, n: i32, D: i32, backward: i32): i32 {
  const n8 = ceil8(n);
  const r4 = ceil4(rows);
  const panels = (backward ? 2 : 1) * D * n8;
  const mats = (backward ? 2 : 1) * r4 * n8;
  return (panels + mats + 2 * D + 64) * 4 + 256;
}

// dst[d * ld + j] = src row j (stride `rowStride` floats), for j < n; zero for n <= j < ld.
// Four keys at a time through a 4x4 register transpose (D is a multiple of 4).
function transpose(dst: usize, src: usize, n: i32, ld: i32, rowStride: i32, D: i32): void {
  const rs = <usize>rowStride << 2;
  const ls = <usize>ld << 2;
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    const s0 = src + <usize>j * rs;
    const o = dst + (<usize>j << 2);
    for (let d = 0; d < D; d += 4) {
      const dd = <usize>d << 2;
      const r0 = v128.load(s0 + dd);
      const r1 = v128.load(s0 + rs + dd);
      const r2 = v128.load(s0 + 2 * rs + dd);
      const r3 = v128.load(s0 + 3 * rs + dd);
      const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5);
      const t1 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7);
      const t2 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5);
      const t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
      const od = o + <usize>d * ls;
      v128.store(od, v128.shuffle<f32>(t0, t2, 0, 1, 4, 5));
      v128.store(od + ls, v128.shuffle<f32>(t0, t2, 2, 3, 6, 7));
      v128.store(od + 2 * ls, v128.shuffle<f32>(t1, t3, 0, 1, 4, 5));
      v128.store(od + 3 * ls, v128.shuffle<f32>(t1, t3, 2, 3, 6, 7));
    }
  }
  for (; j < n; j++) {
    const sj = src + <usize>j * rs;
    for (let d = 0; d < D; d++) store<f32>(dst + (<usize>(d * ld + j) << 2), load<f32>(sj + (d << 2)));
  }
  for (let d = 0; d < D; d++) {
    const row = dst + <usize>d * ls;
    for (let jj = n; jj < ld; jj++) store<f32>(row + (jj << 2), 0);
  }
}

// Kernel A: out[r][j..j+8) = scale * sum_d x_r[d] Yt[d][j..j+8), for the 4 rows x0..x3.
function kA(x0: usize, x1: usize, x2: usize, x3: usize, Yt: usize, ld: i32, D: i32, j: i32, out: usize, ldo: i32, scale: f32): void {
  let c00 = f32x4.splat(0);
  let c01 = c00;
  let c10 = c00;
  let c11 = c00;
  let c20 = c00;
  let c21 = c00;
  let c30 = c00;
  let c31 = c00;
  let p = Yt + (<usize>j << 2);
  const stride = <usize>ld << 2;
  for (let d = 0; d < D; d++) {
    const b0 = v128.load(p);
    const b1 = v128.load(p, 16);
    const o = <usize>d << 2;
    let a = v128.load32_splat(x0 + o);
    c00 = madd(a, b0, c00);
    c01 = madd(a, b1, c01);
    a = v128.load32_splat(x1 + o);
    c10 = madd(a, b0, c10);
    c11 = madd(a, b1, c11);
    a = v128.load32_splat(x2 + o);
    c20 = madd(a, b0, c20);
    c21 = madd(a, b1, c21);
    a = v128.load32_splat(x3 + o);
    c30 = madd(a, b0, c30);
    c31 = madd(a, b1, c31);
    p += stride;
  }
  const s = f32x4.splat(scale);
  const lo = <usize>ldo << 2;
  const o = out + (<usize>j << 2);
  v128.store(o, f32x4.mul(c00, s));
  v128.store(o, f32x4.mul(c01, s), 16);
  v128.store(o + lo, f32x4.mul(c10, s));
  v128.store(o + lo, f32x4.mul(c11, s), 16);
  v128.store(o + 2 * lo, f32x4.mul(c20, s));
  v128.store(o + 2 * lo, f32x4.mul(c21, s), 16);
  v128.store(o + 3 * lo, f32x4.mul(c30, s));
  v128.store(o + 3 * lo, f32x4.mul(c31, s), 16);
}

// Kernel B: o_r[dc..dc+8) (+)= sum_{j<n} W[r][j] Y[j][dc..dc+8), W rows of ldw floats, Y rows of ys.
function kB8(W: usize, ldw: i32, Y: usize, ys: i32, n: i32, dc: i32, o0: usize, o1: usize, o2: usize, o3: usize, acc: bool): void {
  let c00 = f32x4.splat(0);
  let c01 = c00;
  let c10 = c00;
  let c11 = c00;
  let c20 = c00;
  let c21 = c00;
  let c30 = c00;
  let c31 = c00;
  const lw = <usize>ldw << 2;
  let y = Y + (<usize>dc << 2);
  const yst = <usize>ys << 2;
  for (let j = 0; j < n; j++) {
    const b0 = v128.load(y);
    const b1 = v128.load(y, 16);
    const w = W + (<usize>j << 2);
    let a = v128.load32_splat(w);
    c00 = madd(a, b0, c00);
    c01 = madd(a, b1, c01);
    a = v128.load32_splat(w + lw);
    c10 = madd(a, b0, c10);
    c11 = madd(a, b1, c11);
    a = v128.load32_splat(w + 2 * lw);
    c20 = madd(a, b0, c20);
    c21 = madd(a, b1, c21);
    a = v128.load32_splat(w + 3 * lw);
    c30 = madd(a, b0, c30);
    c31 = madd(a, b1, c31);
    y += yst;
  }
  const off = <usize>dc << 2;
  o0 += off;
  o1 += off;
  o2 += off;
  o3 += off;
  if (acc) {
    c00 = f32x4.add(c00, v128.load(o0));
    c01 = f32x4.add(c01, v128.load(o0, 16));
    c10 = f32x4.add(c10, v128.load(o1));
    c11 = f32x4.add(c11, v128.load(o1, 16));
    c20 = f32x4.add(c20, v128.load(o2));
    c21 = f32x4.add(c21, v128.load(o2, 16));
    c30 = f32x4.add(c30, v128.load(o3));
    c31 = f32x4.add(c31, v128.load(o3, 16));
  }
  v128.store(o0, c00);
  v128.store(o0, c01, 16);
  v128.store(o1, c10);
  v128.store(o1, c11, 16);
  v128.store(o2, c20);
  v128.store(o2, c21, 16);
  v128.store(o3, c30);
  v128.store(o3, c31, 16);
}

// Kernel B for a last block of 4 columns (D % 8 == 4).
function kB4(W: usize, ldw: i32, Y: usize, ys: i32, n: i32, dc: i32, o0: usize, o1: usize, o2: usize, o3: usize, acc: bool): void {
  let c0 = f32x4.splat(0);
  let c1 = c0;
  let c2 = c0;
  let c3 = c0;
  const lw = <usize>ldw << 2;
  let y = Y + (<usize>dc << 2);
  const yst = <usize>ys << 2;
  for (let j = 0; j < n; j++) {
    const b0 = v128.load(y);
    const w = W + (<usize>j << 2);
    c0 = madd(v128.load32_splat(w), b0, c0);
    c1 = madd(v128.load32_splat(w + lw), b0, c1);
    c2 = madd(v128.load32_splat(w + 2 * lw), b0, c2);
    c3 = madd(v128.load32_splat(w + 3 * lw), b0, c3);
    y += yst;
  }
  const off = <usize>dc << 2;
  if (acc) {
    c0 = f32x4.add(c0, v128.load(o0 + off));
    c1 = f32x4.add(c1, v128.load(o1 + off));
    c2 = f32x4.add(c2, v128.load(o2 + off));
    c3 = f32x4.add(c3, v128.load(o3 + off));
  }
  v128.store(o0 + off, c0);
  v128.store(o1 + off, c1);
  v128.store(o2 + off, c2);
  v128.store(o3 + off, c3);
}

@inline
function kB(W: usize, ldw: i32, Y: usize, ys: i32, n: i32, D: i32, o0: usize, o1: usize, o2: usize, o3: usize, acc: bool): void {
  let dc = 0;
  for (; dc + 8 <= D; dc += 8) kB8(W, ldw, Y, ys, n, dc, o0, o1, o2, o3, acc);
  if (dc < D) kB4(W, ldw, Y, ys, n, dc, o0, o1, o2, o3, acc);
}

// Kernel C: o_r[dc..dc+8) += sum_{i0<=i<i1} W[i][j0 + r] Y[i][dc..dc+8)  (a transposed W).
function kC8(W: usize, ldw: i32, j0: i32, Y: usize, ys: i32, i0: i32, i1: i32, dc: i32, o0: usize, o1: usize, o2: usize, o3: usize): void {
  let c00 = f32x4.splat(0);
  let c01 = c00;
  let c10 = c00;
  let c11 = c00;
  let c20 = c00;
  let c21 = c00;
  let c30 = c00;
  let c31 = c00;
  const lw = <usize>ldw << 2;
  let w = W + ((<usize>i0 * ldw + j0) << 2);
  const yst = <usize>ys << 2;
  let y = Y + (<usize>i0 * yst) + (<usize>dc << 2);
  for (let i = i0; i < i1; i++) {
    const b0 = v128.load(y);
    const b1 = v128.load(y, 16);
    let a = v128.load32_splat(w);
    c00 = madd(a, b0, c00);
    c01 = madd(a, b1, c01);
    a = v128.load32_splat(w, 4);
    c10 = madd(a, b0, c10);
    c11 = madd(a, b1, c11);
    a = v128.load32_splat(w, 8);
    c20 = madd(a, b0, c20);
    c21 = madd(a, b1, c21);
    a = v128.load32_splat(w, 12);
    c30 = madd(a, b0, c30);
    c31 = madd(a, b1, c31);
    w += lw;
    y += yst;
  }
  const off = <usize>dc << 2;
  o0 += off;
  o1 += off;
  o2 += off;
  o3 += off;
  v128.store(o0, f32x4.add(c00, v128.load(o0)));
  v128.store(o0, f32x4.add(c01, v128.load(o0, 16)), 16);
  v128.store(o1, f32x4.add(c10, v128.load(o1)));
  v128.store(o1, f32x4.add(c11, v128.load(o1, 16)), 16);
  v128.store(o2, f32x4.add(c20, v128.load(o2)));
  v128.store(o2, f32x4.add(c21, v128.load(o2, 16)), 16);
  v128.store(o3, f32x4.add(c30, v128.load(o3)));
  v128.store(o3, f32x4.add(c31, v128.load(o3, 16)), 16);
}

function kC4(W: usize, ldw: i32, j0: i32, Y: usize, ys: i32, i0: i32, i1: i32, dc: i32, o0: usize, o1: usize, o2: usize, o3: usize): void {
  let c0 = f32x4.splat(0);
  let c1 = c0;
  let c2 = c0;
  let c3 = c0;
  const lw = <usize>ldw << 2;
  let w = W + ((<usize>i0 * ldw + j0) << 2);
  const yst = <usize>ys << 2;
  let y = Y + (<usize>i0 * yst) + (<usize>dc << 2);
  for (let i = i0; i < i1; i++) {
    const b0 = v128.load(y);
    c0 = madd(v128.load32_splat(w), b0, c0);
    c1 = madd(v128.load32_splat(w, 4), b0, c1);
    c2 = madd(v128.load32_splat(w, 8), b0, c2);
    c3 = madd(v128.load32_splat(w, 12), b0, c3);
    w += lw;
    y += yst;
  }
  const off = <usize>dc << 2;
  v128.store(o0 + off, f32x4.add(c0, v128.load(o0 + off)));
  v128.store(o1 + off, f32x4.add(c1, v128.load(o1 + off)));
  v128.store(o2 + off, f32x4.add(c2, v128.load(o2 + off)));
  v128.store(o3 + off, f32x4.add(c3, v128.load(o3 + off)));
}

@inline
function kC(W: usize, ldw: i32, j0: i32, Y: usize, ys: i32, i0: i32, i1: i32, D: i32, o0: usize, o1: usize, o2: usize, o3: usize): void {
  let dc = 0;
  for (; dc + 8 <= D; dc += 8) kC8(W, ldw, j0, Y, ys, i0, i1, dc, o0, o1, o2, o3);
  if (dc < D) kC4(W, ldw, j0, Y, ys, i0, i1, dc, o0, o1, o2, o3);
}

// Per-block row table in scratch: for r < 4, [x ptr, y ptr, out ptr, visible keys, row lse/di ...].
const TAB_X: usize = 0;
const TAB_G: usize = 16;
const TAB_O: usize = 32;
const TAB_VIS: usize = 48;
const TAB_L: usize = 64;
const TAB_DI: usize = 80;
const TAB_BYTES: usize = 128;

const IOTA: v128 = i32x4(0, 1, 2, 3);

export function attentionForward(
  t: i32,
  nt: i32,
  out: usize,
  lse: usize,
  q: usize,
  k: usize,
  v: usize,
  B: i32,
  Tq: i32,
  Tk: i32,
  Hq: i32,
  Hkv: i32,
  D: i32,
  pos0: usize,
  scale: f32,
  scratch: usize,
  scratchStride: usize,
): void {
  const group = Hq / Hkv;
  const units = B * Hkv;
  const u0 = (units * t) / nt;
  const u1 = (units * (t + 1)) / nt;
  const R = group * Tq; // query rows of a unit, (h, i) head-major
  const tab = (scratch + <usize>t * scratchStride + 15) & ~15;
  const dummy = tab + TAB_BYTES; // D floats that absorb the stores of padding rows
  const Kt = dummy + (<usize>ceil4(D) << 2);
  for (let u = u0; u < u1; u++) {
    const b = u / Hkv;
    const hk = u % Hkv;
    const p0 = load<i32>(pos0 + (<usize>b << 2));
    const n = min(p0 + Tq, Tk); // keys any query of this unit can see
    const n8 = ceil8(n);
    const P = Kt + (<usize>(D * n8) << 2);
    const kvOff = (<usize>(b * Tk * Hkv + hk) * D) << 2;
    transpose(Kt, k + kvOff, n, n8, Hkv * D, D);
    for (let r0 = 0; r0 < R; r0 += 4) {
      const rows = min(4, R - r0);
      let mEnd = 0;
      for (let r = 0; r < 4; r++) {
        const rr = r0 + min(r, rows - 1);
        const h = hk * group + rr / Tq;
        const i = rr % Tq;
        const ro = (<usize>((b * Tq + i) * Hq + h) * D) << 2;
        const vis = min(p0 + i, Tk - 1) + 1;
        store<usize>(tab + TAB_X + (r << 2), q + ro);
        store<usize>(tab + TAB_O + (r << 2), r < rows ? out + ro : dummy);
        store<i32>(tab + TAB_VIS + (r << 2), vis);
        if (r < rows) store<usize>(tab + TAB_L + (r << 2), lse + (<usize>((b * Hq + h) * Tq + i) << 2));
        mEnd = max(mEnd, vis);
      }
      const m8 = ceil8(mEnd);
      const x0 = load<usize>(tab + TAB_X);
      const x1 = load<usize>(tab + TAB_X, 4);
      const x2 = load<usize>(tab + TAB_X, 8);
      const x3 = load<usize>(tab + TAB_X, 12);
      for (let j = 0; j < m8; j += 8) kA(x0, x1, x2, x3, Kt, n8, D, j, P, n8, scale);
      for (let r = 0; r < rows; r++) {
        const row = P + (<usize>(r * n8) << 2);
        const vis = load<i32>(tab + TAB_VIS + (r << 2));
        // Keys past `vis` are masked: only the vectors from vis & ~3 on need the mask.
        const full = vis & ~3;
        let mx = f32x4.splat(-Infinity);
        for (let j = 0; j < full; j += 4) mx = f32x4.pmax(mx, v128.load(row + (j << 2)));
        const visv = i32x4.splat(vis);
        for (let j = full; j < m8; j += 4) {
          const keep = i32x4.lt_s(i32x4.add(IOTA, i32x4.splat(j)), visv);
          const s = v128.bitselect(v128.load(row + (j << 2)), f32x4.splat(-Infinity), keep);
          v128.store(row + (j << 2), s);
          mx = f32x4.pmax(mx, s);
        }
        const m = hmax(mx);
        const mv = f32x4.splat(m);
        let zs = f32x4.splat(0);
        for (let j = 0; j < m8; j += 4) {
          const e = exp4(f32x4.sub(v128.load(row + (j << 2)), mv));
          v128.store(row + (j << 2), e);
          zs = f32x4.add(zs, e);
        }
        const z = hsum(zs);
        store<f32>(tab + TAB_DI + (r << 2), 1 / z); // P is left unnormalised: out rows are scaled after
        store<f32>(load<usize>(tab + TAB_L + (r << 2)), m + Mathf.log(z));
      }
      const o0 = load<usize>(tab + TAB_O);
      const o1 = load<usize>(tab + TAB_O, 4);
      const o2 = load<usize>(tab + TAB_O, 8);
      const o3 = load<usize>(tab + TAB_O, 12);
      kB(P, n8, v + kvOff, Hkv * D, mEnd, D, o0, o1, o2, o3, false);
      for (let r = 0; r < rows; r++) {
        const o = load<usize>(tab + TAB_O + (r << 2));
        const inv = f32x4.splat(load<f32>(tab + TAB_DI + (r << 2)));
        for (let d = 0; d < D; d += 4) v128.store(o + (d << 2), f32x4.mul(v128.load(o + (d << 2)), inv));
      }
    }
  }
}

export function attentionBackward(
  t: i32,
  nt: i32,
  dq: usize,
  dk: usize,
  dv: usize,
  dOut: usize,
  q: usize,
  k: usize,
  v: usize,
  out: usize,
  lse: usize,
  B: i32,
  T: i32,
  Hq: i32,
  Hkv: i32,
  D: i32,
  scale: f32,
  scratch: usize,
  scratchStride: usize,
): void {
  const group = Hq / Hkv;
  const units = B * Hkv;
  const u0 = (units * t) / nt;
  const u1 = (units * (t + 1)) / nt;
  const R = group * T;
  const n8 = ceil8(T);
  const tab = (scratch + <usize>t * scratchStride + 15) & ~15;
  const dummy = tab + TAB_BYTES;
  const Kt = dummy + (<usize>ceil4(D) << 2);
  const Vt = Kt + (<usize>(D * n8) << 2);
  const Pm = Vt + (<usize>(D * n8) << 2); // [ceil4(R)][n8]
  const dSm = Pm + (<usize>(ceil4(R) * n8) << 2);
  const rowBytes = <usize>n8 << 2;
  const sc = f32x4.splat(scale);
  const zero = f32x4.splat(0);
  for (let u = u0; u < u1; u++) {
    const b = u / Hkv;
    const hk = u % Hkv;
    const kvOff = (<usize>(b * T * Hkv + hk) * D) << 2;
    transpose(Kt, k + kvOff, T, n8, Hkv * D, D);
    transpose(Vt, v + kvOff, T, n8, Hkv * D, D);
    // 1. P, dS per block of 4 query rows; dQ += dS K.
    for (let r0 = 0; r0 < R; r0 += 4) {
      const rows = min(4, R - r0);
      let mEnd = 0;
      for (let r = 0; r < 4; r++) {
        const rr = r0 + min(r, rows - 1);
        const h = hk * group + rr / T;
        const i = rr % T;
        const ro = (<usize>((b * T + i) * Hq + h) * D) << 2;
        store<usize>(tab + TAB_X + (r << 2), q + ro);
        store<usize>(tab + TAB_G + (r << 2), dOut + ro);
        store<usize>(tab + TAB_O + (r << 2), r < rows ? dq + ro : dummy);
        store<i32>(tab + TAB_VIS + (r << 2), i + 1);
        store<f32>(tab + TAB_L + (r << 2), load<f32>(lse + (<usize>((b * Hq + h) * T + i) << 2)));
        let d4 = f32x4.splat(0);
        for (let d = 0; d < D; d += 4) d4 = madd(v128.load(dOut + ro + (d << 2)), v128.load(out + ro + (d << 2)), d4);
        store<f32>(tab + TAB_DI + (r << 2), hsum(d4)); // sum_j P_ij dP_ij = dOut_i . out_i
        mEnd = max(mEnd, i + 1);
      }
      const m8 = ceil8(mEnd);
      const Pb = Pm + <usize>r0 * rowBytes;
      const Sb = dSm + <usize>r0 * rowBytes;
      const x0 = load<usize>(tab + TAB_X);
      const x1 = load<usize>(tab + TAB_X, 4);
      const x2 = load<usize>(tab + TAB_X, 8);
      const x3 = load<usize>(tab + TAB_X, 12);
      const g0 = load<usize>(tab + TAB_G);
      const g1 = load<usize>(tab + TAB_G, 4);
      const g2 = load<usize>(tab + TAB_G, 8);
      const g3 = load<usize>(tab + TAB_G, 12);
      for (let j = 0; j < m8; j += 8) {
        kA(x0, x1, x2, x3, Kt, n8, D, j, Pb, n8, scale);
        kA(g0, g1, g2, g3, Vt, n8, D, j, Sb, n8, 1);
      }
      for (let r = 0; r < 4; r++) {
        const pr = Pb + <usize>r * rowBytes;
        const sr = Sb + <usize>r * rowBytes;
        if (r >= rows) {
          memory.fill(pr, 0, rowBytes);
          memory.fill(sr, 0, rowBytes);
          continue;
        }
        const visv = i32x4.splat(load<i32>(tab + TAB_VIS + (r << 2)));
        const l = f32x4.splat(load<f32>(tab + TAB_L + (r << 2)));
        const di = f32x4.splat(load<f32>(tab + TAB_DI + (r << 2)));
        for (let j = 0; j < m8; j += 4) {
          const o = <usize>j << 2;
          const keep = i32x4.lt_s(i32x4.add(IOTA, i32x4.splat(j)), visv);
          const p = v128.and(exp4(f32x4.sub(v128.load(pr + o), l)), keep);
          v128.store(pr + o, p);
          v128.store(sr + o, f32x4.mul(f32x4.mul(p, f32x4.sub(v128.load(sr + o), di)), sc));
        }
        // Kernel C reads a few columns past a row's last key: they must be zero.
        for (let j = m8; j < n8; j += 4) {
          v128.store(pr + (j << 2), zero);
          v128.store(sr + (j << 2), zero);
        }
      }
      const o0 = load<usize>(tab + TAB_O);
      const o1 = load<usize>(tab + TAB_O, 4);
      const o2 = load<usize>(tab + TAB_O, 8);
      const o3 = load<usize>(tab + TAB_O, 12);
      kB(Sb, n8, k + kvOff, Hkv * D, mEnd, D, o0, o1, o2, o3, true);
    }
    // 2. dV += P^T dO and dK += dS^T Q, four keys at a time, summed over the group's heads.
    const ys = Hq * D;
    for (let j0 = 0; j0 < T; j0 += 4) {
      const jr = min(4, T - j0);
      const kvRow = <usize>(Hkv * D) << 2;
      const a0 = kvOff + <usize>j0 * kvRow;
      const a1 = a0 + kvRow;
      const a2 = a1 + kvRow;
      const a3 = a2 + kvRow;
      for (let hh = 0; hh < group; hh++) {
        const h = hk * group + hh;
        const Ph = Pm + <usize>(hh * T) * rowBytes;
        const Sh = dSm + <usize>(hh * T) * rowBytes;
        const base = (<usize>(b * T * Hq + h) * D) << 2; // row i of head h: base + i * ys floats
        kC(Ph, n8, j0, dOut + base, ys, j0, T, D, dv + a0, jr > 1 ? dv + a1 : dummy, jr > 2 ? dv + a2 : dummy, jr > 3 ? dv + a3 : dummy);
        kC(Sh, n8, j0, q + base, ys, j0, T, D, dk + a0, jr > 1 ? dk + a1 : dummy, jr > 2 ? dk + a2 : dummy, jr > 3 ? dk + a3 : dummy);
      }
    }
  }
}

/** Scratch bytes one thread needs for single-query decoding over `n` keys. */
export function attentionDecodeScratchBytes(n: i32): i32 {
  return (ceil4(n) + 16) * 4 + 64;
}

// sum of each of a0..a3, as the four lanes of one vector.
@inline
function hsum4(a0: v128, a1: v128, a2: v128, a3: v128): v128 {
  const t0 = f32x4.add(v128.shuffle<f32>(a0, a1, 0, 4, 1, 5), v128.shuffle<f32>(a0, a1, 2, 6, 3, 7));
  const t1 = f32x4.add(v128.shuffle<f32>(a2, a3, 0, 4, 1, 5), v128.shuffle<f32>(a2, a3, 2, 6, 3, 7));
  return f32x4.add(v128.shuffle<f32>(t0, t1, 0, 1, 4, 5), v128.shuffle<f32>(t0, t1, 2, 3, 6, 7));
}

/** Decoding (Tq = 1): one work unit per (sequence, query head), keys and values read in place.
 *  Without the transposed panels and 4-row blocks of attentionForward (which would hold only the
 *  group's few rows here), each key costs one pass over its row for the score and one for P V. */
export function attentionDecode(
  t: i32,
  nt: i32,
  out: usize,
  lse: usize,
  q: usize,
  k: usize,
  v: usize,
  B: i32,
  Tk: i32,
  Hq: i32,
  Hkv: i32,
  D: i32,
  pos0: usize,
  scale: f32,
  scratch: usize,
  scratchStride: usize,
): void {
  const group = Hq / Hkv;
  const units = B * Hq;
  const u0 = (units * t) / nt;
  const u1 = (units * (t + 1)) / nt;
  const P = (scratch + <usize>t * scratchStride + 15) & ~15;
  const ks = <usize>(Hkv * D) << 2; // bytes between consecutive keys
  const sc = f32x4.splat(scale);
  for (let u = u0; u < u1; u++) {
    const b = u / Hq;
    const h = u % Hq;
    const hk = h / group;
    const n = min(load<i32>(pos0 + (<usize>b << 2)) + 1, Tk);
    const n4 = ceil4(n);
    const qp = q + (<usize>(u * D) << 2);
    const kb = k + ((<usize>(b * Tk * Hkv + hk) * D) << 2);
    const vb = v + ((<usize>(b * Tk * Hkv + hk) * D) << 2);
    // Scores, four keys at a time (keys past n repeat the last one; masked below).
    let mx = f32x4.splat(-Infinity);
    for (let j = 0; j < n4; j += 4) {
      const k0 = kb + <usize>j * ks;
      const k1 = kb + <usize>min(j + 1, n - 1) * ks;
      const k2 = kb + <usize>min(j + 2, n - 1) * ks;
      const k3 = kb + <usize>min(j + 3, n - 1) * ks;
      let a0 = f32x4.splat(0);
      let a1 = a0;
      let a2 = a0;
      let a3 = a0;
      for (let d = 0; d < D; d += 4) {
        const o = <usize>d << 2;
        const qv = v128.load(qp + o);
        a0 = madd(qv, v128.load(k0 + o), a0);
        a1 = madd(qv, v128.load(k1 + o), a1);
        a2 = madd(qv, v128.load(k2 + o), a2);
        a3 = madd(qv, v128.load(k3 + o), a3);
      }
      let s = f32x4.mul(hsum4(a0, a1, a2, a3), sc);
      if (j + 4 > n) s = v128.bitselect(s, f32x4.splat(-Infinity), i32x4.lt_s(i32x4.add(IOTA, i32x4.splat(j)), i32x4.splat(n)));
      v128.store(P + (<usize>j << 2), s);
      mx = f32x4.pmax(mx, s);
    }
    const m = hmax(mx);
    const mv = f32x4.splat(m);
    let zs = f32x4.splat(0);
    for (let j = 0; j < n4; j += 4) {
      const e = exp4(f32x4.sub(v128.load(P + (<usize>j << 2)), mv));
      v128.store(P + (<usize>j << 2), e);
      zs = f32x4.add(zs, e);
    }
    const z = hsum(zs);
    const inv = f32x4.splat(1 / z);
    // out = sum_j P_j v_j / z, sixteen columns at a time.
    const op = out + (<usize>(u * D) << 2);
    let dc = 0;
    for (; dc + 16 <= D; dc += 16) {
      let c0 = f32x4.splat(0);
      let c1 = c0;
      let c2 = c0;
      let c3 = c0;
      let vp = vb + (<usize>dc << 2);
      for (let j = 0; j < n; j++) {
        const p = v128.load32_splat(P + (<usize>j << 2));
        c0 = madd(p, v128.load(vp), c0);
        c1 = madd(p, v128.load(vp, 16), c1);
        c2 = madd(p, v128.load(vp, 32), c2);
        c3 = madd(p, v128.load(vp, 48), c3);
        vp += ks;
      }
      const o = op + (<usize>dc << 2);
      v128.store(o, f32x4.mul(c0, inv));
      v128.store(o, f32x4.mul(c1, inv), 16);
      v128.store(o, f32x4.mul(c2, inv), 32);
      v128.store(o, f32x4.mul(c3, inv), 48);
    }
    for (; dc < D; dc += 4) {
      let c0 = f32x4.splat(0);
      let vp = vb + (<usize>dc << 2);
      for (let j = 0; j < n; j++) {
        c0 = madd(v128.load32_splat(P + (<usize>j << 2)), v128.load(vp), c0);
        vp += ks;
      }
      v128.store(op + (<usize>dc << 2), f32x4.mul(c0, inv));
    }
    store<f32>(lse + (<usize>u << 2), m + Mathf.log(z));
  }
}
