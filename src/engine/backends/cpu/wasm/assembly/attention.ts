// Causal grouped-query attention, forward (with per-sequence start positions, so it also serves
// KV-cache decoding) and backward (training: pos0 = 0, Tq = Tk).
// Layouts as in backend.ts: q/out [B, Tq, Hq, D], k/v [B, Tk, Hkv, D], lse [B, Hq, Tq].
//
// Work unit: one (sequence b, key/value head hk) pair, with all the query heads of its group,
// so threads never write the same dk/dv rows. The unit's keys and values are first transposed
// into [D][n4] scratch panels, which turns every dot product over D into f32x4 work over keys
// (four keys per vector, no horizontal sums in the score loops).
// D must be a multiple of 4 (the JS side falls back to the reference otherwise).

import { exp4, hmax, hsum, madd } from "./simd";

@inline
function ceil4(n: i32): i32 {
  return (n + 3) & ~3;
}

/** Scratch floats one thread needs for keys up to `n` and head size D. */
export function attentionScratchFloats(n: i32, D: i32): i32 {
  const n4 = ceil4(n);
  return 4 * D * n4 + 2 * n4 + 16;
}

// dst[d * n4 + j] = src row j (stride `rowStride` floats), for j < n; zero for n <= j < n4.
function transpose(dst: usize, src: usize, n: i32, n4: i32, rowStride: i32, D: i32): void {
  for (let j = 0; j < n; j++) {
    const s = src + (<usize>(j * rowStride) << 2);
    for (let d = 0; d < D; d++) store<f32>(dst + (<usize>(d * n4 + j) << 2), load<f32>(s + (d << 2)));
  }
  for (let j = n; j < n4; j++) for (let d = 0; d < D; d++) store<f32>(dst + (<usize>(d * n4 + j) << 2), 0);
}

// out[j] = sum_d x[d] * Xt[d][j] * scale, for j < n4 (Xt is [D][ld]); four key vectors at a time.
function scores(out: usize, x: usize, Xt: usize, n4: i32, ld: i32, D: i32, scale: f32): void {
  const stride = <usize>ld << 2;
  let j = 0;
  for (; j + 16 <= n4; j += 16) {
    let s0 = f32x4.splat(0);
    let s1 = s0;
    let s2 = s0;
    let s3 = s0;
    let p = Xt + (<usize>j << 2);
    for (let d = 0; d < D; d++) {
      const xd = v128.load32_splat(x + (d << 2));
      s0 = madd(xd, v128.load(p), s0);
      s1 = madd(xd, v128.load(p, 16), s1);
      s2 = madd(xd, v128.load(p, 32), s2);
      s3 = madd(xd, v128.load(p, 48), s3);
      p += stride;
    }
    const sc = f32x4.splat(scale);
    const o = out + (<usize>j << 2);
    v128.store(o, f32x4.mul(s0, sc));
    v128.store(o, f32x4.mul(s1, sc), 16);
    v128.store(o, f32x4.mul(s2, sc), 32);
    v128.store(o, f32x4.mul(s3, sc), 48);
  }
  for (; j < n4; j += 4) {
    let s0 = f32x4.splat(0);
    let p = Xt + (<usize>j << 2);
    for (let d = 0; d < D; d++) {
      s0 = madd(v128.load32_splat(x + (d << 2)), v128.load(p), s0);
      p += stride;
    }
    v128.store(out + (<usize>j << 2), f32x4.mul(s0, f32x4.splat(scale)));
  }
}

// y[d] (+)= sum_j w[j] * Xt[d][j] for j < n4 (Xt is [D][ld]; w is zero past the last key).
function weightedSum(y: usize, w: usize, Xt: usize, n4: i32, ld: i32, D: i32, accumulate: bool): void {
  const stride = <usize>ld << 2;
  for (let d = 0; d < D; d++) {
    const row = Xt + <usize>d * stride;
    let a0 = f32x4.splat(0);
    let a1 = a0;
    let j = 0;
    for (; j + 8 <= n4; j += 8) {
      const o = <usize>j << 2;
      a0 = madd(v128.load(w + o), v128.load(row + o), a0);
      a1 = madd(v128.load(w + o, 16), v128.load(row + o, 16), a1);
    }
    for (; j < n4; j += 4) a0 = madd(v128.load(w + (<usize>j << 2)), v128.load(row + (<usize>j << 2)), a0);
    const s = hsum(f32x4.add(a0, a1));
    const yd = y + (d << 2);
    store<f32>(yd, accumulate ? load<f32>(yd) + s : s);
  }
}

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
  const base = (scratch + <usize>t * scratchStride + 15) & ~15;
  for (let u = u0; u < u1; u++) {
    const b = u / Hkv;
    const hk = u % Hkv;
    const p0 = load<i32>(pos0 + (<usize>b << 2));
    const n = min(p0 + Tq, Tk); // keys any query of this sequence can see
    const n4 = ceil4(n);
    const Kt = base;
    const Vt = Kt + (<usize>(D * n4) << 2);
    const P = Vt + (<usize>(D * n4) << 2);
    const kvOff = (<usize>(b * Tk * Hkv + hk) * D) << 2;
    transpose(Kt, k + kvOff, n, n4, Hkv * D, D);
    transpose(Vt, v + kvOff, n, n4, Hkv * D, D);
    for (let h = hk * group; h < (hk + 1) * group; h++) {
      for (let i = 0; i < Tq; i++) {
        const last = min(p0 + i, Tk - 1);
        const m1 = last + 1;
        const m4 = ceil4(m1);
        const qo = q + ((<usize>((b * Tq + i) * Hq + h) * D) << 2);
        scores(P, qo, Kt, m4, n4, D, scale);
        for (let j = m1; j < m4; j++) store<f32>(P + (j << 2), -Infinity);
        let mx = f32x4.splat(-Infinity);
        for (let j = 0; j < m4; j += 4) mx = f32x4.max(mx, v128.load(P + (j << 2)));
        const m = hmax(mx);
        const mv = f32x4.splat(m);
        let zs = f32x4.splat(0);
        for (let j = 0; j < m4; j += 4) {
          const e = exp4(f32x4.sub(v128.load(P + (j << 2)), mv));
          v128.store(P + (j << 2), e);
          zs = f32x4.add(zs, e);
        }
        const z = hsum(zs);
        const inv = f32x4.splat(1 / z);
        for (let j = 0; j < m4; j += 4) v128.store(P + (j << 2), f32x4.mul(v128.load(P + (j << 2)), inv));
        weightedSum(out + ((<usize>((b * Tq + i) * Hq + h) * D) << 2), P, Vt, m4, n4, D, false);
        store<f32>(lse + (<usize>((b * Hq + h) * Tq + i) << 2), m + Mathf.log(z));
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
  const base = (scratch + <usize>t * scratchStride + 15) & ~15;
  const n4 = ceil4(T);
  const panel = <usize>(D * n4) << 2;
  const stride = <usize>n4 << 2;
  const Kt = base;
  const Vt = Kt + panel;
  const dKt = Vt + panel;
  const dVt = dKt + panel;
  const P = dVt + panel;
  const DS = P + stride;
  for (let u = u0; u < u1; u++) {
    const b = u / Hkv;
    const hk = u % Hkv;
    const kvOff = (<usize>(b * T * Hkv + hk) * D) << 2;
    transpose(Kt, k + kvOff, T, n4, Hkv * D, D);
    transpose(Vt, v + kvOff, T, n4, Hkv * D, D);
    memory.fill(dKt, 0, panel * 2);
    for (let h = hk * group; h < (hk + 1) * group; h++) {
      for (let i = 0; i < T; i++) {
        const m1 = i + 1;
        const m4 = ceil4(m1);
        const ro = (<usize>((b * T + i) * Hq + h) * D) << 2;
        const qi = q + ro;
        const gi = dOut + ro;
        const l = f32x4.splat(load<f32>(lse + (<usize>((b * Hq + h) * T + i) << 2)));
        // di = dOut_i . out_i  (= sum_j P_ij dP_ij)
        let dv4 = f32x4.splat(0);
        for (let d = 0; d < D; d += 4) dv4 = madd(v128.load(gi + (d << 2)), v128.load(out + ro + (d << 2)), dv4);
        const di = f32x4.splat(hsum(dv4));
        scores(P, qi, Kt, m4, n4, D, scale); // s * scale
        scores(DS, gi, Vt, m4, n4, D, 1); // dP_ij = dOut_i . v_j
        const sc = f32x4.splat(scale);
        for (let j = 0; j < m4; j += 4) {
          const o = <usize>j << 2;
          const p = exp4(f32x4.sub(v128.load(P + o), l));
          v128.store(P + o, p);
          v128.store(DS + o, f32x4.mul(f32x4.mul(p, f32x4.sub(v128.load(DS + o), di)), sc));
        }
        for (let j = m1; j < m4; j++) {
          store<f32>(P + (j << 2), 0);
          store<f32>(DS + (j << 2), 0);
        }
        // dV_j += P_ij dOut_i ; dK_j += dS_ij q_i (in the transposed panels), dq_i += sum_j dS_ij k_j
        for (let d = 0; d < D; d++) {
          const qd = v128.load32_splat(qi + (d << 2));
          const gd = v128.load32_splat(gi + (d << 2));
          const rk = Kt + <usize>d * stride;
          const rdk = dKt + <usize>d * stride;
          const rdv = dVt + <usize>d * stride;
          let acc = f32x4.splat(0);
          for (let j = 0; j < m4; j += 4) {
            const o = <usize>j << 2;
            const ds = v128.load(DS + o);
            v128.store(rdk + o, madd(ds, qd, v128.load(rdk + o)));
            v128.store(rdv + o, madd(v128.load(P + o), gd, v128.load(rdv + o)));
            acc = madd(ds, v128.load(rk + o), acc);
          }
          const a = dq + ro + (d << 2);
          store<f32>(a, load<f32>(a) + hsum(acc));
        }
      }
    }
    // Scatter the panels back into the [B, T, Hkv, D] gradients.
    for (let j = 0; j < T; j++) {
      const row = kvOff + (<usize>(j * Hkv * D) << 2);
      for (let d = 0; d < D; d++) {
        const o = row + (d << 2);
        const src = <usize>(d * n4 + j) << 2;
        store<f32>(dk + o, load<f32>(dk + o) + load<f32>(dKt + src));
        store<f32>(dv + o, load<f32>(dv + o) + load<f32>(dVt + src));
      }
    }
  }
}
