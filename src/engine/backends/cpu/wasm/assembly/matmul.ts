// C[M,N] = (acc ? C : 0) + op(A)[M,K] op(B)[K,N], all four transpose variants.
//
// GotoBLAS-style blocking, simplified: for each KC slice of K and NC slice of N, B is packed
// into NR-column panels ([kc][NR], contiguous, zero-padded) that stay in L2; for each MR-row
// block, A is packed into [kc][MR] (L1) and a 4x8 register-blocked micro-kernel (8 f32x4
// accumulators, 2 B vectors, 1 broadcast of A) walks the panels. Measured under V8 11.3: 4x8 and
// 2x16 reach about twice the throughput of 6x8, 5x8 or 4x12, which run out of registers and spill.
// Packing makes every transpose variant run the same inner loop.
// Threads split rows of C (or columns when C is wide and short); t / nt pick this thread's share.

import { madd } from "./simd";

const MR: i32 = 4;
const NR: i32 = 8;
const KC: i32 = 256;
const NC: i32 = 256;

@inline
function ceilNR(n: i32): i32 {
  return (n + NR - 1) & ~(NR - 1);
}

/** Floats of a weight W [N, K] packed by packWeights. */
export function packedFloats(N: i32, K: i32): i32 {
  return K * ceilNR(N);
}

/** Packs W [N, K] (a linear layer's weight, used as op(B) = W^T) into the panels matmul would
 *  pack for every call: block (k0, j0) at k0 * ceil8(N) + kc * j0 floats. A decoder packs its
 *  weights once and multiplies by them for every token (matmulPacked). */
export function packWeights(dst: usize, W: usize, N: i32, K: i32): void {
  for (let k0 = 0; k0 < K; k0 += KC) {
    const kc = min(KC, K - k0);
    for (let j0 = 0; j0 < N; j0 += NC)
      packB(dst + (<usize>(k0 * ceilNR(N) + kc * j0) << 2), W, N, K, true, k0, kc, j0, min(NC, N - j0));
  }
}

/** C[M, N] = A[M, K] W^T with W packed by packWeights, on the calling thread: the values of
 *  matmul(C, A, W, M, N, K, transB = 1), without packing W again. */
export function matmulPacked(C: usize, A: usize, Wp: usize, M: i32, N: i32, K: i32, scratch: usize): void {
  block(C, A, 0, M, N, K, false, true, false, 0, M, 0, N, scratch, Wp);
}

/** Bytes of scratch one thread needs: packed B block, packed A block, one edge tile. */
export function matmulScratchBytes(): i32 {
  return (KC * NC + KC * MR + MR * NR) * 4 + 64;
}

function packA(Ap: usize, A: usize, M: i32, K: i32, transA: bool, i0: i32, mr: i32, k0: i32, kc: i32): void {
  if (transA) {
    // A stored [K, M]: the MR values of one k are contiguous.
    for (let k = 0; k < kc; k++) {
      const src = A + ((<usize>(k0 + k) * M + i0) << 2);
      const dst = Ap + (<usize>(k * MR) << 2);
      if (mr == MR) {
        v128.store(dst, v128.load(src));
      } else {
        for (let r = 0; r < MR; r++) store<f32>(dst + (r << 2), r < mr ? load<f32>(src + (r << 2)) : 0);
      }
    }
  } else if (mr == MR) {
    // A stored [M, K], a full block: 4x4 register transposes, four k at a time.
    const rs = <usize>K << 2;
    const src = A + ((<usize>i0 * K + k0) << 2);
    let k = 0;
    for (; k + 4 <= kc; k += 4) {
      const s = src + (<usize>k << 2);
      const r0 = v128.load(s);
      const r1 = v128.load(s + rs);
      const r2 = v128.load(s + 2 * rs);
      const r3 = v128.load(s + 3 * rs);
      const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5);
      const t1 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7);
      const t2 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5);
      const t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
      const d = Ap + (<usize>(k * MR) << 2);
      v128.store(d, v128.shuffle<f32>(t0, t2, 0, 1, 4, 5));
      v128.store(d, v128.shuffle<f32>(t0, t2, 2, 3, 6, 7), 16);
      v128.store(d, v128.shuffle<f32>(t1, t3, 0, 1, 4, 5), 32);
      v128.store(d, v128.shuffle<f32>(t1, t3, 2, 3, 6, 7), 48);
    }
    for (; k < kc; k++)
      for (let r = 0; r < MR; r++)
        store<f32>(Ap + (<usize>(k * MR + r) << 2), load<f32>(src + <usize>r * rs + (<usize>k << 2)));
  } else {
    // A stored [M, K]: each row is contiguous, scattered into column r of the panel.
    for (let r = 0; r < MR; r++) {
      const dst = Ap + (r << 2);
      if (r < mr) {
        const src = A + ((<usize>(i0 + r) * K + k0) << 2);
        for (let k = 0; k < kc; k++) store<f32>(dst + (<usize>(k * MR) << 2), load<f32>(src + (k << 2)));
      } else {
        for (let k = 0; k < kc; k++) store<f32>(dst + (<usize>(k * MR) << 2), 0);
      }
    }
  }
}

function packB(Bp: usize, B: usize, N: i32, K: i32, transB: bool, k0: i32, kc: i32, j0: i32, nc: i32): void {
  for (let p = 0; p * NR < nc; p++) {
    const jp = j0 + p * NR;
    const w = min(NR, nc - p * NR);
    const dst = Bp + (<usize>(p * kc * NR) << 2);
    if (!transB) {
      // B stored [K, N]: a panel row is NR contiguous floats.
      for (let k = 0; k < kc; k++) {
        const src = B + ((<usize>(k0 + k) * N + jp) << 2);
        const d = dst + (<usize>(k * NR) << 2);
        if (w == NR) {
          v128.store(d, v128.load(src));
          v128.store(d, v128.load(src, 16), 16);
        } else {
          for (let c = 0; c < NR; c++) store<f32>(d + (c << 2), c < w ? load<f32>(src + (c << 2)) : 0);
        }
      }
    } else if (w == NR) {
      // B stored [N, K], a full panel: two 4x4 register transposes per four k.
      const rs = <usize>K << 2;
      const src = B + ((<usize>jp * K + k0) << 2);
      let k = 0;
      for (; k + 4 <= kc; k += 4) {
        for (let g = 0; g < 2; g++) {
          const s = src + <usize>(g * 4) * rs + (<usize>k << 2);
          const r0 = v128.load(s);
          const r1 = v128.load(s + rs);
          const r2 = v128.load(s + 2 * rs);
          const r3 = v128.load(s + 3 * rs);
          const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5);
          const t1 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7);
          const t2 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5);
          const t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
          const d = dst + (<usize>(k * NR + g * 4) << 2);
          v128.store(d, v128.shuffle<f32>(t0, t2, 0, 1, 4, 5));
          v128.store(d, v128.shuffle<f32>(t0, t2, 2, 3, 6, 7), 32);
          v128.store(d, v128.shuffle<f32>(t1, t3, 0, 1, 4, 5), 64);
          v128.store(d, v128.shuffle<f32>(t1, t3, 2, 3, 6, 7), 96);
        }
      }
      for (; k < kc; k++)
        for (let c = 0; c < NR; c++)
          store<f32>(dst + (<usize>(k * NR + c) << 2), load<f32>(src + <usize>c * rs + (<usize>k << 2)));
    } else {
      // B stored [N, K]: column c of the panel is row jp + c of B.
      for (let c = 0; c < NR; c++) {
        const d = dst + (c << 2);
        if (c < w) {
          const src = B + ((<usize>(jp + c) * K + k0) << 2);
          for (let k = 0; k < kc; k++) store<f32>(d + (<usize>(k * NR) << 2), load<f32>(src + (k << 2)));
        } else {
          for (let k = 0; k < kc; k++) store<f32>(d + (<usize>(k * NR) << 2), 0);
        }
      }
    }
  }
}

// MR x NR tile of C (row stride ldc bytes) = (load ? C : 0) + Ap^T Bp over kc.
function micro(Ap: usize, Bp: usize, kc: i32, C: usize, ldc: usize, accumulate: bool): void {
  let c00 = f32x4.splat(0);
  let c01 = c00;
  let c10 = c00;
  let c11 = c00;
  let c20 = c00;
  let c21 = c00;
  let c30 = c00;
  let c31 = c00;
  for (let k = 0; k < kc; k++) {
    const b0 = v128.load(Bp);
    const b1 = v128.load(Bp, 16);
    let a = v128.load32_splat(Ap);
    c00 = madd(a, b0, c00);
    c01 = madd(a, b1, c01);
    a = v128.load32_splat(Ap, 4);
    c10 = madd(a, b0, c10);
    c11 = madd(a, b1, c11);
    a = v128.load32_splat(Ap, 8);
    c20 = madd(a, b0, c20);
    c21 = madd(a, b1, c21);
    a = v128.load32_splat(Ap, 12);
    c30 = madd(a, b0, c30);
    c31 = madd(a, b1, c31);
    Ap += MR << 2;
    Bp += NR << 2;
  }
  if (accumulate) {
    c00 = f32x4.add(c00, v128.load(C));
    c01 = f32x4.add(c01, v128.load(C, 16));
    c10 = f32x4.add(c10, v128.load(C + ldc));
    c11 = f32x4.add(c11, v128.load(C + ldc, 16));
    c20 = f32x4.add(c20, v128.load(C + 2 * ldc));
    c21 = f32x4.add(c21, v128.load(C + 2 * ldc, 16));
    c30 = f32x4.add(c30, v128.load(C + 3 * ldc));
    c31 = f32x4.add(c31, v128.load(C + 3 * ldc, 16));
  }
  v128.store(C, c00);
  v128.store(C, c01, 16);
  v128.store(C + ldc, c10);
  v128.store(C + ldc, c11, 16);
  v128.store(C + 2 * ldc, c20);
  v128.store(C + 2 * ldc, c21, 16);
  v128.store(C + 3 * ldc, c30);
  v128.store(C + 3 * ldc, c31, 16);
}

function block(
  C: usize,
  A: usize,
  B: usize,
  M: i32,
  N: i32,
  K: i32,
  transA: bool,
  transB: bool,
  acc: bool,
  m0: i32,
  m1: i32,
  n0: i32,
  n1: i32,
  scratch: usize,
  packed: usize,
): void {
  if (m0 >= m1 || n0 >= n1) return;
  if (K == 0) {
    if (!acc) for (let i = m0; i < m1; i++) memory.fill(C + ((<usize>i * N + n0) << 2), 0, <usize>(n1 - n0) << 2);
    return;
  }
  const Bp = (scratch + 15) & ~15;
  const Ap = Bp + (<usize>(KC * NC) << 2);
  const tile = Ap + (<usize>(KC * MR) << 2);
  const ldc = <usize>N << 2;
  for (let k0 = 0; k0 < K; k0 += KC) {
    const kc = min(KC, K - k0);
    const ld = acc || k0 > 0;
    for (let j0 = n0; j0 < n1; j0 += NC) {
      const nc = min(NC, n1 - j0);
      // B comes packed (packWeights) or is packed here, into the same panels.
      const bp0 = packed != 0 ? packed + (<usize>(k0 * ceilNR(N) + kc * j0) << 2) : Bp;
      if (packed == 0) packB(Bp, B, N, K, transB, k0, kc, j0, nc);
      for (let i = m0; i < m1; i += MR) {
        const mr = min(MR, m1 - i);
        packA(Ap, A, M, K, transA, i, mr, k0, kc);
        for (let p = 0; p * NR < nc; p++) {
          const j = j0 + p * NR;
          const w = min(NR, nc - p * NR);
          const bp = bp0 + (<usize>(p * kc * NR) << 2);
          const c = C + ((<usize>i * N + j) << 2);
          if (mr == MR && w == NR) {
            micro(Ap, bp, kc, c, ldc, ld);
          } else {
            micro(Ap, bp, kc, tile, NR << 2, false);
            for (let r = 0; r < mr; r++) {
              const cr = c + <usize>r * ldc;
              for (let q = 0; q < w; q++) {
                const v = load<f32>(tile + (<usize>(r * NR + q) << 2));
                store<f32>(cr + (q << 2), ld ? load<f32>(cr + (q << 2)) + v : v);
              }
            }
          }
        }
      }
    }
  }
}

export function matmul(
  t: i32,
  nt: i32,
  C: usize,
  A: usize,
  B: usize,
  M: i32,
  N: i32,
  K: i32,
  transA: i32,
  transB: i32,
  acc: i32,
  scratch: usize,
  scratchStride: usize,
): void {
  const s = scratch + <usize>t * scratchStride;
  const mb = (M + MR - 1) / MR;
  const nb = (N + NR - 1) / NR;
  // Split the dimension with more blocks; each thread takes a contiguous run of blocks.
  if (mb >= nb) {
    const b0 = (mb * t) / nt;
    const b1 = (mb * (t + 1)) / nt;
    block(C, A, B, M, N, K, transA != 0, transB != 0, acc != 0, b0 * MR, min(M, b1 * MR), 0, N, s, 0);
  } else {
    const b0 = (nb * t) / nt;
    const b1 = (nb * (t + 1)) / nt;
    block(C, A, B, M, N, K, transA != 0, transB != 0, acc != 0, 0, M, b0 * NR, min(N, b1 * NR), s, 0);
  }
}
