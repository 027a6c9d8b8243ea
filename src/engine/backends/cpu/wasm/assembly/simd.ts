// Shared SIMD helpers. `madd` becomes one fused multiply-add when the module is built with
// relaxed SIMD (kernels-relaxed.wasm); the baseline build keeps a separate multiply and add.

@inline
export function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

@inline
export function hsum(v: v128): f32 {
  return (
    f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3))
  );
}

@inline
export function hmax(v: v128): f32 {
  return max(max(f32x4.extract_lane(v, 0), f32x4.extract_lane(v, 1)), max(f32x4.extract_lane(v, 2), f32x4.extract_lane(v, 3)));
}

// Constants of exp4, splatted once into static memory: V8 (11.3) does not hoist f32x4.splat of a
// constant out of loops, and rebuilding a dozen splats per call cost more than the arithmetic.
const EXP_C: usize = memory.data<f32>([
  -87.3, -87.3, -87.3, -87.3,
  88.7228, 88.7228, 88.7228, 88.7228,
  1.44269504088896341, 1.44269504088896341, 1.44269504088896341, 1.44269504088896341,
  127, 127, 127, 127,
  12582912.0, 12582912.0, 12582912.0, 12582912.0,
  0.693359375, 0.693359375, 0.693359375, 0.693359375,
  -2.12194440e-4, -2.12194440e-4, -2.12194440e-4, -2.12194440e-4,
  1.9875691500e-4, 1.9875691500e-4, 1.9875691500e-4, 1.9875691500e-4,
  1.3981999507e-3, 1.3981999507e-3, 1.3981999507e-3, 1.3981999507e-3,
  8.3334519073e-3, 8.3334519073e-3, 8.3334519073e-3, 8.3334519073e-3,
  4.1665795894e-2, 4.1665795894e-2, 4.1665795894e-2, 4.1665795894e-2,
  1.6666665459e-1, 1.6666665459e-1, 1.6666665459e-1, 1.6666665459e-1,
  5.0000001201e-1, 5.0000001201e-1, 5.0000001201e-1, 5.0000001201e-1,
  1.0, 1.0, 1.0, 1.0,
  Infinity, Infinity, Infinity, Infinity,
], 16);

// exp(x) for four lanes: Cephes expf (range reduction by ln 2, degree-6 polynomial), about 2 ulp.
// Lanes below -87.3 (including -inf) give exactly 0, lanes above 88.72 (float32 overflow) +inf.
// n = round(x / ln 2) comes from the 1.5 * 2^23 "magic number" addition, whose low mantissa bits
// are then n as an integer.
@inline
export function exp4(x: v128): v128 {
  const lo = v128.load(EXP_C);
  const hi = v128.load(EXP_C, 16);
  const under = f32x4.lt(x, lo);
  const over = f32x4.gt(x, hi);
  x = f32x4.pmin(f32x4.pmax(x, lo), hi); // pmin/pmax: one instruction each, unlike min/max
  const magic = v128.load(EXP_C, 64);
  // n <= 127 keeps 2^n a finite float; near the top r then reaches ln 2, still well inside the
  // polynomial's accuracy (about 1e-6 relative there).
  const t = f32x4.add(f32x4.pmin(f32x4.mul(x, v128.load(EXP_C, 32)), v128.load(EXP_C, 48)), magic);
  const n = f32x4.sub(t, magic);
  let r = f32x4.sub(x, f32x4.mul(n, v128.load(EXP_C, 80)));
  r = f32x4.sub(r, f32x4.mul(n, v128.load(EXP_C, 96)));
  let p = v128.load(EXP_C, 112);
  p = madd(p, r, v128.load(EXP_C, 128));
  p = madd(p, r, v128.load(EXP_C, 144));
  p = madd(p, r, v128.load(EXP_C, 160));
  p = madd(p, r, v128.load(EXP_C, 176));
  p = madd(p, r, v128.load(EXP_C, 192));
  const r2 = f32x4.mul(r, r);
  const y = f32x4.add(madd(p, r2, r), v128.load(EXP_C, 208));
  // (bits(t) - bits(magic)) = n; 2^n has exponent field n + 127.
  const pow2 = i32x4.shl(i32x4.sub(t, i32x4.splat(0x4b400000 - 127)), 23);
  return v128.bitselect(v128.load(EXP_C, 224), v128.andnot(f32x4.mul(y, pow2), under), over);
}

/** 1 / (1 + exp(-x)) */
@inline
export function sigmoid4(x: v128): v128 {
  const one = f32x4.splat(1.0);
  return f32x4.div(one, f32x4.add(one, exp4(f32x4.neg(x))));
}
