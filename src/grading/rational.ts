// Exact rational evaluation of expression trees with BigInt, so that integers, decimals and
// fractions of any size compare exactly (1234567 vs 1234568 is never "close enough"). Sizes
// are capped: anything that would grow past MAX_BITS is "not rational here" (null) and goes to
// the numeric comparison instead.

import type { Node } from "./latex.ts";
import { spend } from "./work.ts";

export interface Rational {
  n: bigint;
  d: bigint; // > 0; not necessarily reduced (see make)
}

const MAX_BITS = 20_000;
const MAX_DIGITS = 6_000;

function bitLen(x: bigint): number {
  return (x < 0n ? -x : x).toString(16).length * 4;
}

function gcd(a: bigint, b: bigint): bigint {
  if (a < 0n) a = -a;
  if (b < 0n) b = -b;
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

// Reducing by the gcd costs quadratic time in the size (seconds at 20,000 bits), so only small
// fractions are reduced; equality is decided by cross-multiplication, which needs no reduction.
const REDUCE_BITS = 512;

function make(n: bigint, d: bigint): Rational | null {
  if (d === 0n) return null;
  if (d < 0n) {
    n = -n;
    d = -d;
  }
  const bn = bitLen(n);
  const bd = bitLen(d);
  spend(1 + ((bn + bd) >> 3)); // BigInt work grows with the size of its operands
  if (bn > MAX_BITS || bd > MAX_BITS) return null;
  if (bn > REDUCE_BITS || bd > REDUCE_BITS) return { n, d };
  const g = gcd(n, d);
  return g > 1n ? { n: n / g, d: d / g } : { n, d };
}

/** The integer value of r, or null when r is not an integer. */
function asInteger(r: Rational): bigint | null {
  return r.n % r.d === 0n ? r.n / r.d : null;
}

/** Parses a decimal literal such as 12, 0.50, 1.2e-3 exactly. */
export function parseDecimal(v: string): Rational | null {
  const m = /^([0-9]*)(?:\.([0-9]*))?(?:[eE]([+-]?[0-9]+))?$/.exec(v);
  if (m === null) return null;
  const int = m[1] ?? "";
  const frac = m[2] ?? "";
  if (int.length + frac.length === 0 || int.length + frac.length > MAX_DIGITS) return null;
  const exp = (m[3] === undefined ? 0 : Number(m[3])) - frac.length;
  if (!Number.isFinite(exp) || Math.abs(exp) > 1000) return null;
  const mant = BigInt(int + frac || "0");
  return exp >= 0 ? make(mant * 10n ** BigInt(exp), 1n) : make(mant, 10n ** BigInt(-exp));
}

function pow(b: Rational, e: Rational): Rational | null {
  let k = asInteger(e);
  if (k === null) return null;
  if (k === 0n) return { n: 1n, d: 1n };
  if (b.n === 0n) return k > 0n ? b : null;
  const neg = k < 0n;
  if (neg) k = -k;
  // Cheap size check before computing: |k| * bits must stay under the cap.
  const bits = Math.max(bitLen(b.n), bitLen(b.d));
  if (k > BigInt(MAX_BITS) || Number(k) * Math.max(bits - 1, 0) > MAX_BITS) {
    const unit = (b.n === 1n || b.n === -1n) && b.d === 1n;
    if (!unit) return null;
  }
  const r = make(b.n ** k, b.d ** k);
  if (r === null) return null;
  return neg ? make(r.d, r.n) : r;
}

/** Exact value of the tree when it only involves rational arithmetic; null otherwise. */
export function evalRational(node: Node): Rational | null {
  switch (node.t) {
    case "num":
      return parseDecimal(node.v);
    case "neg": {
      const a = evalRational(node.a);
      return a === null ? null : { n: -a.n, d: a.d };
    }
    case "add":
    case "sub":
    case "mul":
    case "div":
    case "pow": {
      const a = evalRational(node.a);
      if (a === null) return null;
      const b = evalRational(node.b);
      if (b === null) return null;
      switch (node.t) {
        case "add":
          return make(a.n * b.d + b.n * a.d, a.d * b.d);
        case "sub":
          return make(a.n * b.d - b.n * a.d, a.d * b.d);
        case "mul":
          return make(a.n * b.n, a.d * b.d);
        case "div":
          return make(a.n * b.d, a.d * b.n);
        default:
          return pow(a, b);
      }
    }
    case "fn":
      if (node.name === "factorial" && node.args.length === 1) {
        const a = evalRational(node.args[0]!);
        return a === null ? null : factorial(a);
      }
      if (node.name === "binom" && node.args.length === 2) {
        const n = evalRational(node.args[0]!);
        const k = n === null ? null : evalRational(node.args[1]!);
        return n === null || k === null ? null : binom(n, k);
      }
      return null;
    default:
      return null;
  }
}

/**
 * bitLen of a running product, charging the 64 steps of it since the last check: each step
 * costs about its size in machine words, `unitsPerBit` for the 64 (more when it also divides).
 */
function chargedBits(r: bigint, unitsPerBit: number): number {
  const bits = bitLen(r);
  spend(Math.ceil(bits * unitsPerBit));
  return bits;
}

/** n! for a non-negative integer n, while it stays under the size cap. */
function factorial(a: Rational): Rational | null {
  const n = asInteger(a);
  if (n === null || n < 0n || n > 10_000n) return null;
  let r = 1n;
  for (let i = 2n; i <= n; i++) {
    r *= i;
    if ((i & 63n) === 0n && chargedBits(r, 0.5) > MAX_BITS) return null;
  }
  return make(r, 1n);
}

/** Binomial coefficient C(n, k) for integers 0 <= k <= n (0 outside that range). */
function binom(nr: Rational, kr: Rational): Rational | null {
  const n = asInteger(nr);
  const k = asInteger(kr);
  if (n === null || k === null || n < 0n) return null;
  if (k < 0n || k > n) return { n: 0n, d: 1n };
  const kk = k < n - k ? k : n - k;
  if (kk > 10_000n) return null;
  let r = 1n;
  for (let i = 1n; i <= kk; i++) {
    r = (r * (n - kk + i)) / i; // exact: a product of i consecutive integers is divisible by i!
    if ((i & 63n) === 0n && chargedBits(r, 1) > MAX_BITS) return null;
  }
  return make(r, 1n);
}

export function rationalEquals(a: Rational, b: Rational): boolean {
  return a.n * b.d === b.n * a.d;
}
