// exp and log in float64 exactly as V8 computes Math.exp and Math.log (base::ieee754, from
// FreeBSD's msun e_exp.c / e_log.c). AssemblyScript's Math uses musl's table-driven versions,
// which differ in the last bit for some inputs: the sampler's statistics and token draws in wasm
// (decode.ts) must equal those of the TypeScript path (model/sample.ts) bit for bit.

const ln2HI: f64 = 6.93147180369123816490e-01; // 0x3fe62e42 fee00000
const ln2LO: f64 = 1.90821492927058770002e-10; // 0x3dea39ef 35793c76
const invln2: f64 = 1.44269504088896338700e+00;
const P1: f64 = 1.66666666666666019037e-01;
const P2: f64 = -2.77777777770155933842e-03;
const P3: f64 = 6.61375632143793436117e-05;
const P4: f64 = -1.65339022054652515390e-06;
const P5: f64 = 4.13813679705723846039e-08;
const E: f64 = 2.718281828459045;
const twom1000: f64 = 9.33263618503218878990e-302; // 2^-1000

@inline
function fromHigh(hi: u32): f64 {
  return reinterpret<f64>(<u64>hi << 32);
}

export function fdExp(x: f64): f64 {
  const bits = reinterpret<u64>(x);
  let hx = <u32>(bits >> 32);
  const xsb = <i32>(hx >> 31);
  hx &= 0x7fffffff;
  if (hx >= 0x40862e42) {
    if (hx >= 0x7ff00000) {
      if (((hx & 0xfffff) | <u32>bits) != 0) return x + x; // NaN
      return xsb == 0 ? x : 0.0; // exp(+-inf) = inf, 0
    }
    if (x > 7.09782712893383973096e+02) return Infinity;
    if (x < -7.45133219101941108420e+02) return 0.0;
  }
  let hi: f64 = 0;
  let lo: f64 = 0;
  let k: i32 = 0;
  if (hx > 0x3fd62e42) {
    // |x| > 0.5 ln2
    if (hx < 0x3ff0a2b2) {
      // and |x| < 1.5 ln2
      if (x == 1.0) return E;
      hi = x - (xsb == 0 ? ln2HI : -ln2HI);
      lo = xsb == 0 ? ln2LO : -ln2LO;
      k = 1 - xsb - xsb;
    } else {
      k = <i32>(invln2 * x + (xsb == 0 ? 0.5 : -0.5));
      const t = <f64>k;
      hi = x - t * ln2HI;
      lo = t * ln2LO;
    }
    x = hi - lo;
  } else if (hx < 0x3e300000) {
    return 1.0 + x; // |x| < 2^-28
  }
  const t = x * x;
  const twopk = k >= -1021 ? fromHigh(<u32>(0x3ff00000 + (k << 20))) : fromHigh(<u32>(0x3ff00000 + ((k + 1000) << 20)));
  const c = x - t * (P1 + t * (P2 + t * (P3 + t * (P4 + t * P5))));
  if (k == 0) return 1.0 - ((x * c) / (c - 2.0) - x);
  const y = 1.0 - ((lo - (x * c) / (2.0 - c)) - hi);
  if (k >= -1021) {
    if (k == 1024) return y * 2.0 * 8.98846567431157953865e+307; // 2^1023
    return y * twopk;
  }
  return y * twopk * twom1000;
}

const Lg1: f64 = 6.666666666666735130e-01;
const Lg2: f64 = 3.999999999940941908e-01;
const Lg3: f64 = 2.857142874366239149e-01;
const Lg4: f64 = 2.222219843214978396e-01;
const Lg5: f64 = 1.818357216161805012e-01;
const Lg6: f64 = 1.531383769920937332e-01;
const Lg7: f64 = 1.479819860511658591e-01;
const two54: f64 = 1.80143985094819840000e+16;

export function fdLog(x: f64): f64 {
  let bits = reinterpret<u64>(x);
  let hx = <i32>(bits >> 32);
  const lx = <u32>bits;
  let k: i32 = 0;
  if (hx < 0x00100000) {
    // x < 2^-1022
    if (((hx & 0x7fffffff) | lx) == 0) return -Infinity;
    if (hx < 0) return NaN;
    k -= 54;
    x *= two54; // subnormal: scale up
    bits = reinterpret<u64>(x);
    hx = <i32>(bits >> 32);
  }
  if (hx >= 0x7ff00000) return x + x;
  k += (hx >> 20) - 1023;
  hx &= 0x000fffff;
  let i = (hx + 0x95f64) & 0x100000;
  x = reinterpret<f64>((<u64>(<u32>(hx | (i ^ 0x3ff00000))) << 32) | (reinterpret<u64>(x) & 0xffffffff)); // x or x/2
  k += i >> 20;
  const f = x - 1.0;
  if ((0x000fffff & (2 + hx)) < 3) {
    // -2^-20 <= f < 2^-20
    if (f == 0.0) {
      if (k == 0) return 0.0;
      const dk = <f64>k;
      return dk * ln2HI + dk * ln2LO;
    }
    const R = f * f * (0.5 - 0.33333333333333333 * f);
    if (k == 0) return f - R;
    const dk = <f64>k;
    return dk * ln2HI - ((R - dk * ln2LO) - f);
  }
  const s = f / (2.0 + f);
  const dk = <f64>k;
  const z = s * s;
  i = hx - 0x6147a;
  const w = z * z;
  const j = 0x6b851 - hx;
  const t1 = w * (Lg2 + w * (Lg4 + w * Lg6));
  const t2 = z * (Lg1 + w * (Lg3 + w * (Lg5 + w * Lg7)));
  i |= j;
  const R = t2 + t1;
  if (i > 0) {
    const hfsq = 0.5 * f * f;
    if (k == 0) return f - (hfsq - s * (hfsq + R));
    return dk * ln2HI - ((hfsq - (s * (hfsq + R) + dk * ln2LO)) - f);
  }
  if (k == 0) return f - s * (f - R);
  return dk * ln2HI - ((s * (f - R) - dk * ln2LO) - f);
}
