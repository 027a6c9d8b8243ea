// Numeric comparison of expression trees through mathjs (complex-aware functions: sqrt of a
// negative, logs, trig). Expressions with free variables are compared at seeded random points,
// which decides algebraic identities such as (x+1)^2 = x^2+2x+1 without a symbolic simplifier.
// The tree is walked directly (no mathjs parse/compile), so its depth only costs stack frames
// that the parser already bounded. mathjs is loaded on first use: integer-only grading never
// pays its start-up cost.

import { createRequire } from "node:module";
import type { Node } from "./latex.ts";
import { freeVars, nodeCount } from "./latex.ts";
import { NODE_EVAL_UNITS, spend } from "./work.ts";

type MathJs = typeof import("mathjs");
let mathjs: MathJs | null = null;
function math(): MathJs {
  mathjs ??= createRequire(import.meta.url)("mathjs") as MathJs;
  return mathjs;
}

interface C {
  re: number;
  im: number;
}

class NumericError extends Error {}

const N_POINTS = 8;
const MIN_VALID = 2;

export interface NumericOptions {
  /** Relative tolerance (and the same absolute floor scaled by 1e-3). */
  relTol?: number;
}

function toC(v: unknown): C {
  if (typeof v === "number") return { re: v, im: 0 };
  if (v !== null && typeof v === "object" && "re" in v && "im" in v) {
    const z = v as { re: unknown; im: unknown };
    if (typeof z.re === "number" && typeof z.im === "number") return { re: z.re, im: z.im };
  }
  throw new NumericError("not a number");
}

function isReal(v: unknown): v is number {
  return typeof v === "number";
}

// mathjs values are number | Complex; typed loosely here because the unions are wide.
// biome-ignore lint/suspicious/noExplicitAny: mathjs function overloads over number|Complex
type V = any;

const TINY = 1e-290;

function magnitude(v: V): number {
  const z = toC(v);
  return Math.hypot(z.re, z.im);
}

/**
 * Rejects a point whose evaluation overflowed (an infinite intermediate, as in 1/2004!) or
 * underflowed (a product or power of non-zero values that came out as 0, as in e^{-1000}):
 * such values would make different answers look equal (0 = 0).
 */
function checked(r: V, nonZeroInputs: V[]): V {
  const m = magnitude(r);
  if (!Number.isFinite(m)) throw new NumericError("overflow");
  if (m < TINY && nonZeroInputs.length > 0 && nonZeroInputs.every((x) => magnitude(x) >= TINY)) {
    throw new NumericError("underflow");
  }
  return r;
}

function evalNode(n: Node, scope: Map<string, number>): V {
  const m = math();
  switch (n.t) {
    case "num": {
      const x = Number(n.v);
      if (Number.isNaN(x)) throw new NumericError("bad number");
      return x;
    }
    case "var": {
      const x = scope.get(n.name);
      if (x === undefined) throw new NumericError("unbound");
      return x;
    }
    case "const":
      if (n.name === "pi") return Math.PI;
      if (n.name === "e") return Math.E;
      if (n.name === "i") return m.complex(0, 1);
      throw new NumericError("infinity");
    case "neg":
      return m.unaryMinus(evalNode(n.a, scope));
    case "deg":
      return m.multiply(evalNode(n.a, scope), Math.PI / 180);
    case "add":
      return checked(m.add(evalNode(n.a, scope), evalNode(n.b, scope)), []);
    case "sub":
      return checked(m.subtract(evalNode(n.a, scope), evalNode(n.b, scope)), []);
    case "mul": {
      const a = evalNode(n.a, scope);
      const b = evalNode(n.b, scope);
      return checked(m.multiply(a, b), [a, b]);
    }
    case "div": {
      const a = evalNode(n.a, scope);
      return checked(m.divide(a, evalNode(n.b, scope)), [a]);
    }
    case "pow": {
      const a = evalNode(n.a, scope);
      return checked(m.pow(a, evalNode(n.b, scope)), [a]);
    }
    case "fn": {
      const args = n.args.map((a) => evalNode(a, scope));
      return checked(evalFn(n.name, args), n.name === "exp" ? args : []);
    }
  }
}

function gammaOf(x: V): V {
  return math().gamma(x);
}

function evalFn(name: string, args: V[]): V {
  const m = math();
  const [a, b] = args;
  switch (name) {
    case "sqrt":
      return m.sqrt(a);
    case "nthroot":
      // Real odd roots of negatives stay real (\sqrt[3]{-8} = -2), as written in answers.
      if (isReal(a) && isReal(b) && Number.isInteger(b) && b > 0) return m.nthRoot(a, b);
      return m.pow(a, m.divide(1, b));
    case "sin":
    case "cos":
    case "tan":
    case "cot":
    case "sec":
    case "csc":
    case "sinh":
    case "cosh":
    case "tanh":
    case "exp":
    case "abs":
    case "floor":
    case "ceil":
      return (m[name] as (x: V) => V)(a);
    case "arcsin":
      return m.asin(a);
    case "arccos":
      return m.acos(a);
    case "arctan":
      return m.atan(a);
    case "ln":
      return m.log(a);
    case "log":
    case "lg":
      return m.log10(a);
    case "logb":
      return m.divide(m.log(a), m.log(b));
    case "factorial":
      return gammaOf(m.add(a, 1));
    case "binom":
      return m.divide(
        gammaOf(m.add(a, 1)),
        m.multiply(gammaOf(m.add(b, 1)), gammaOf(m.add(m.subtract(a, b), 1))),
      );
    case "max":
    case "min":
    case "gcd":
    case "lcm":
      if (!args.every(isReal)) throw new NumericError("real arguments only");
      if ((name === "gcd" || name === "lcm") && !args.every((x) => Number.isSafeInteger(x))) {
        throw new NumericError("integer arguments only");
      }
      return (m[name] as (...xs: number[]) => number)(...(args as number[]));
    default:
      throw new NumericError(`unknown function ${name}`);
  }
}

/** Value of the tree at a point, or null when undefined there (division by 0, overflow, …). */
function valueAt(n: Node, scope: Map<string, number>): C | null {
  try {
    const z = toC(evalNode(n, scope));
    return Number.isFinite(z.re) && Number.isFinite(z.im) ? z : null;
  } catch {
    return null;
  }
}

function close(a: C, b: C, relTol: number): boolean {
  const diff = Math.hypot(a.re - b.re, a.im - b.im);
  const scale = Math.max(Math.hypot(a.re, a.im), Math.hypot(b.re, b.im));
  return diff <= relTol * scale + relTol * 1e-3;
}

/**
 * Deterministic points (mulberry32): the same answer pair always gets the same verdict. Each
 * point charges the evaluation of the trees at it to the work budget.
 */
function* points(vars: string[], a: Node, b: Node): Generator<Map<string, number>> {
  const cost = NODE_EVAL_UNITS * (nodeCount(a) + nodeCount(b));
  let seed = 0x9e3779b9;
  const rand = (): number => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const count = vars.length === 0 ? 1 : N_POINTS;
  for (let k = 0; k < count; k++) {
    spend(cost);
    const scope = new Map<string, number>();
    // Magnitudes in [0.3, 2.7] of both signs: away from 0 and from overflow, and negative
    // values tell x from |x| or sqrt(x^2).
    for (const v of vars) scope.set(v, (rand() < 0.5 ? -1 : 1) * (0.3 + 2.4 * rand()));
    yield scope;
  }
}

function sortedVars(a: Node, b: Node): string[] {
  return [...freeVars(b, freeVars(a))].sort();
}

/**
 * true/false when the two trees were compared at enough points; null when they could not be
 * evaluated (the caller then treats them as different).
 */
export function numericEqual(a: Node, b: Node, opts: NumericOptions = {}): boolean | null {
  const relTol = opts.relTol ?? 1e-9;
  let valid = 0;
  const vars = sortedVars(a, b);
  for (const scope of points(vars, a, b)) {
    const x = valueAt(a, scope);
    const y = valueAt(b, scope);
    if (x === null || y === null) {
      if ((x === null) !== (y === null) && vars.length === 0) return false;
      continue;
    }
    if (!close(x, y, relTol)) return false;
    valid++;
  }
  return valid >= (vars.length === 0 ? 1 : MIN_VALID) ? true : null;
}

/**
 * Equations lhs = rhs compare as equal when (lhsA - rhsA) = c (lhsB - rhsB) for a constant
 * c != 0 at every point (5x-7y+11z+4=0 is the same plane as -10x+14y-22z-8=0).
 */
export function proportional(fa: Node, fb: Node, opts: NumericOptions = {}): boolean | null {
  const r = commonRatio(fa, fb, opts);
  return r === null ? null : r !== false;
}

/**
 * The sign of c when fa = c fb for a real constant c != 0 (inequalities: x < 1 and -x > -1 are
 * the same when written as differences with a positive factor); null when not proportional,
 * not real, or undecided.
 */
export function ratioSign(fa: Node, fb: Node, opts: NumericOptions = {}): 1 | -1 | null {
  const r = commonRatio(fa, fb, opts);
  if (r === null || r === false || Math.abs(r.im) > 1e-9 * Math.abs(r.re)) return null;
  return r.re > 0 ? 1 : -1;
}

/** The constant ratio fa / fb over the sample points; false when it varies, null when undecided. */
function commonRatio(fa: Node, fb: Node, opts: NumericOptions): C | false | null {
  const relTol = opts.relTol ?? 1e-9;
  const vars = sortedVars(fa, fb);
  if (vars.length === 0) return null;
  let ratio: C | null = null;
  let valid = 0;
  for (const scope of points(vars, fa, fb)) {
    const x = valueAt(fa, scope);
    const y = valueAt(fb, scope);
    if (x === null || y === null) continue;
    const ny = Math.hypot(y.re, y.im);
    const nx = Math.hypot(x.re, x.im);
    if (ny < 1e-12 || nx < 1e-12) {
      if (ny < 1e-12 && nx < 1e-12) valid++;
      else return false;
      continue;
    }
    const d = y.re * y.re + y.im * y.im;
    const r = { re: (x.re * y.re + x.im * y.im) / d, im: (x.im * y.re - x.re * y.im) / d };
    if (ratio === null) ratio = r;
    else if (!close(r, ratio, Math.max(relTol, 1e-7))) return false;
    valid++;
  }
  return valid >= MIN_VALID && ratio !== null ? ratio : null;
}
