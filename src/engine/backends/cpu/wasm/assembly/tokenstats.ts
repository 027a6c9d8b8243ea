// Vocabulary-wide statistics, fused per row: log p(target), entropy, self-certainty (KL(U||p))
// and the logsumexp, plus their gradient. Rows are split across threads.
// Two sweeps over a row (max/mean, then exp/sums) instead of an online max: the row sits in L1
// and a second read is cheaper than rescaling on every new maximum.

import { exp4, hmax, hsum } from "./simd";

export function tokenStatsForward(
  t: i32,
  nt: i32,
  out: usize,
  lse: usize,
  logits: usize,
  targets: usize,
  N: i32,
  V: i32,
): void {
  const r0 = (N * t) / nt;
  const r1 = (N * (t + 1)) / nt;
  const V4 = V & ~3;
  const logV = Mathf.log(<f32>V);
  for (let r = r0; r < r1; r++) {
    const row = logits + (<usize>r * V << 2);
    let mx = f32x4.splat(-Infinity);
    // The mean logit enters self-certainty directly: summed in float64 (large vocabularies).
    let s0 = f64x2.splat(0);
    let s1 = s0;
    for (let j = 0; j < V4; j += 4) {
      const z = v128.load(row + (j << 2));
      mx = f32x4.pmax(mx, z);
      s0 = f64x2.add(s0, f64x2.promote_low_f32x4(z));
      s1 = f64x2.add(s1, f64x2.promote_low_f32x4(i32x4.shuffle(z, z, 2, 3, 0, 1)));
    }
    let m = hmax(mx);
    const s01 = f64x2.add(s0, s1);
    let sum = f64x2.extract_lane(s01, 0) + f64x2.extract_lane(s01, 1);
    for (let j = V4; j < V; j++) {
      const z = load<f32>(row + (j << 2));
      if (z > m) m = z; // NaN-ignoring, like the reference
      sum += z;
    }
    const mean = <f32>(sum / <f64>V);
    const mv = f32x4.splat(m);
    let s4 = f32x4.splat(0);
    let sz4 = s4;
    for (let j = 0; j < V4; j += 4) {
      const z = v128.load(row + (j << 2));
      const e = exp4(f32x4.sub(z, mv));
      s4 = f32x4.add(s4, e);
      sz4 = f32x4.add(sz4, f32x4.mul(e, f32x4.sub(z, mv)));
    }
    let s = hsum(s4);
    let sz = hsum(sz4); // sum e^(z-m) (z-m): shifted by m for accuracy
    for (let j = V4; j < V; j++) {
      const z = load<f32>(row + (j << 2)) - m;
      const e = Mathf.exp(z);
      s += e;
      sz += e * z;
    }
    const ls = Mathf.log(s);
    const l = m + ls;
    store<f32>(lse + (<usize>r << 2), l);
    const tg = load<i32>(targets + (<usize>r << 2));
    const o = out + (<usize>(r * 3) << 2);
    store<f32>(o, tg >= 0 ? load<f32>(row + (<usize>tg << 2)) - l : 0);
    store<f32>(o, ls - sz / s, 4); // H = lse - E_p[z]
    store<f32>(o, l - mean - logV, 8);
  }
}

export function tokenStatsBackward(
  t: i32,
  nt: i32,
  dLogits: usize,
  dOut: usize,
  logits: usize,
  lse: usize,
  targets: usize,
  N: i32,
  V: i32,
  scratch: usize,
  scratchStride: usize,
): void {
  const r0 = (N * t) / nt;
  const r1 = (N * (t + 1)) / nt;
  const V4 = V & ~3;
  const invV = <f32>1 / <f32>V;
  const P = (scratch + <usize>t * scratchStride + 15) & ~15; // p of the row, reused by both sweeps
  for (let r = r0; r < r1; r++) {
    const tg = load<i32>(targets + (<usize>r << 2));
    const go = dOut + (<usize>(r * 3) << 2);
    const gL: f32 = tg >= 0 ? load<f32>(go) : 0;
    const gH = load<f32>(go, 4);
    const gS = load<f32>(go, 8);
    if (gL == 0 && gH == 0 && gS == 0) continue;
    const row = logits + (<usize>r * V << 2);
    const drow = dLogits + (<usize>r * V << 2);
    const l = load<f32>(lse + (<usize>r << 2));
    const lv = f32x4.splat(l);
    // H = -sum p lp
    let h4 = f32x4.splat(0);
    for (let j = 0; j < V4; j += 4) {
      const lp = f32x4.sub(v128.load(row + (j << 2)), lv);
      const p = exp4(lp);
      v128.store(P + (j << 2), p);
      h4 = f32x4.sub(h4, f32x4.mul(p, lp));
    }
    let H = hsum(h4);
    for (let j = V4; j < V; j++) {
      const lp = load<f32>(row + (j << 2)) - l;
      const p = Mathf.exp(lp);
      store<f32>(P + (j << 2), p);
      H -= p * lp;
    }
    // g = -gL p + gS (p - 1/V) - gH p (lp + H) = p (gS - gL - gH (lp + H)) - gS/V
    const c = f32x4.splat(gS - gL);
    const ghv = f32x4.splat(gH);
    const hv = f32x4.splat(H);
    const sv = f32x4.splat(gS * invV);
    for (let j = 0; j < V4; j += 4) {
      const lp = f32x4.sub(v128.load(row + (j << 2)), lv);
      const p = v128.load(P + (j << 2));
      const g = f32x4.sub(f32x4.mul(p, f32x4.sub(c, f32x4.mul(ghv, f32x4.add(lp, hv)))), sv);
      v128.store(drow + (j << 2), f32x4.add(v128.load(drow + (j << 2)), g));
    }
    for (let j = V4; j < V; j++) {
      const lp = load<f32>(row + (j << 2)) - l;
      const p = load<f32>(P + (j << 2));
      store<f32>(drow + (j << 2), load<f32>(drow + (j << 2)) + p * (gS - gL - gH * (lp + H)) - gS * invV);
    }
    if (tg >= 0) {
      const a = drow + (<usize>tg << 2);
      store<f32>(a, load<f32>(a) + gL);
    }
  }
}
