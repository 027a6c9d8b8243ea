// Equivalence of two final answers. After string normalisation, an answer is split into its
// shape (matrix, list of solutions, union of intervals, set, tuple/interval, relation, equation,
// bare list, scalar) and the shapes are compared element-wise: in order for tuples, intervals
// and matrices, in any order for sets and bare lists ("x = 1, -2"). A named value (`x = 5`,
// `(p,q) = (3,2)`, `AB = 4`) stands for its value; a chain `x = 5+5+1 = 11` for its last value.
// Scalars compare as text, then exactly as rationals, then numerically (numeric.ts) at random
// points for expressions with variables. Each comparison is bounded by a count of work
// (work.ts), never by a clock.

import { freeVars, GREEK, hasInfinity, type Node, parseLatex } from "./latex.ts";
import { MAX_STRUCTURED_LEN, normalizeDetailed } from "./normalize.ts";
import { numericEqual, proportional } from "./numeric.ts";
import { evalRational, type Rational, rationalEquals } from "./rational.ts";
import { type Relation, relationAsInterval, relationsEqual, splitRelation } from "./relations.ts";
import { DEFAULT_WORK_BUDGET, metered, OutOfWork, spend } from "./work.ts";

export interface EquivalenceOptions {
  /** Relative tolerance of the numeric comparison (default 1e-9). */
  relTol?: number;
  /**
   * Work budget of one comparison in work units (default DEFAULT_WORK_BUDGET, work.ts); past it
   * the answers count as different. Counted, not timed: the verdict never depends on the machine.
   */
  workBudget?: number;
}

/** A verdict with the work it took: `exhausted` when the budget ran out (verdict false). */
export interface MeteredVerdict {
  equal: boolean;
  used: number;
  exhausted: boolean;
}

type Shape =
  | { k: "scalar"; s: string }
  | { k: "matrix"; rows: string[][] }
  | { k: "union"; parts: string[] }
  | { k: "set"; items: string[] }
  | { k: "seq"; open: string; close: string; items: string[] }
  | { k: "rel"; rel: Relation }
  | { k: "eq"; parts: string[]; approx: boolean }
  | { k: "list"; items: string[] };

const MAX_ITEMS = 64;
const MAX_NESTING = 4;

// Work units (work.ts) of the fixed part of comparing two items (reading their shapes: a dozen
// scans and regular expressions) and of one scalar comparison, measured against the numeric
// evaluation; each also pays per character.
const ITEM_UNITS = 200;
const SCALAR_UNITS = 50;

/**
 * Whether two answers are mathematically the same. Never throws. `b` is the reference: a
 * relation there (`-2 \le x \le 7`) also accepts the interval it describes, not the reverse.
 */
export function isEquivalent(a: string, b: string, opts: EquivalenceOptions = {}): boolean {
  return equivalenceWork(a, b, opts).equal;
}

/** isEquivalent, with the work units it spent. */
export function equivalenceWork(a: string, b: string, opts: EquivalenceOptions = {}): MeteredVerdict {
  const o = opts ?? {};
  const r = metered(o.workBudget ?? DEFAULT_WORK_BUDGET, () => {
    try {
      return equivalentNormalized(a, b, o);
    } catch (e) {
      if (e instanceof OutOfWork) throw e;
      return false; // any unexpected failure: not shown to be equal
    }
  });
  return { equal: r.value === true, used: r.used, exhausted: r.exhausted };
}

function equivalentNormalized(a: string, b: string, opts: EquivalenceOptions): boolean {
  const na = normalizeDetailed(a);
  const nb = normalizeDetailed(b);
  if (na.text === "" || nb.text === "") return false;
  if (na.text === nb.text) return true;
  if (na.text.length > MAX_STRUCTURED_LEN || nb.text.length > MAX_STRUCTURED_LEN) return false;
  spend(na.text.length + nb.text.length); // the shape scans below
  let sa = shapeOf(na.text);
  let sb = shapeOf(nb.text);
  // `y = -\frac12 x + \frac34` against the equation `2x+4y-3=0`: the left side is needed back.
  if (sa.k === "eq" && equationValue(sa.parts, sa.approx) === null && nb.named !== undefined) {
    sb = shapeOf(`${nb.named}=${nb.text}`);
  } else if (sb.k === "eq" && equationValue(sb.parts, sb.approx) === null && na.named !== undefined) {
    sa = shapeOf(`${na.named}=${na.text}`);
  }
  if (sa.k === "scalar" && sb.k === "scalar") {
    // A percentage may be written as itself or as a fraction: 20\% = 20 = 0.2.
    const ca = na.percent ? [sa.s, `\\frac{${sa.s}}{100}`] : [sa.s];
    const cb = nb.percent ? [sb.s, `\\frac{${sb.s}}{100}`] : [sb.s];
    return ca.some((x) => cb.some((y) => scalarEqual(x, y, opts)));
  }
  if (sb.k === "rel" && sa.k !== "rel") {
    const interval = relationAsInterval(sb.rel);
    return interval !== null && shapesEqual(sa, shapeOf(interval), opts, 0);
  }
  return shapesEqual(sa, sb, opts, 0);
}

/** Splits at top-level occurrences of `sep` (outside (), [], {} and \{ \}). */
export function splitTop(s: string, sep: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === "\\") {
      if (s[i + 1] === "{" || s[i + 1] === "}") {
        depth += s[i + 1] === "{" ? 1 : -1;
        i++;
        continue;
      }
      if (depth === 0 && s.startsWith(sep, i) && sep.startsWith("\\")) {
        // A command separator must not be the prefix of a longer command (\cup vs \cupcake).
        const next = s[i + sep.length];
        if (next === undefined || !/[a-zA-Z]/.test(next) || !/[a-zA-Z]$/.test(sep)) {
          out.push(s.slice(start, i));
          i += sep.length - 1;
          start = i + 1;
          continue;
        }
      }
      if (/[a-zA-Z]/.test(s[i + 1] ?? "")) {
        while (/[a-zA-Z]/.test(s[i + 1] ?? "")) i++;
      } else {
        i++;
      }
      continue;
    }
    if (c === "(" || c === "[" || c === "{") depth++;
    else if (c === ")" || c === "]" || c === "}") depth--;
    else if (depth === 0 && !sep.startsWith("\\") && s.startsWith(sep, i)) {
      out.push(s.slice(start, i));
      i += sep.length - 1;
      start = i + 1;
    }
  }
  out.push(s.slice(start));
  return out;
}

/** Whether the bracket at 0 closes exactly at the end (any of ( [ with any of ) ]). */
function wrapsWhole(s: string, open: number, closeLen: number): boolean {
  let depth = 0;
  for (let i = open; i < s.length - closeLen; i++) {
    const c = s[i]!;
    if (c === "\\") {
      if (s[i + 1] === "{") depth++;
      else if (s[i + 1] === "}") depth--;
      i++;
    } else if (c === "(" || c === "[" || c === "{") depth++;
    else if (c === ")" || c === "]" || c === "}") depth--;
    if (depth === 0) return false;
  }
  return depth === 1;
}

const MATRIX = /^\\begin\{([pbvBV]?matrix|array|smallmatrix)\}(.*)\\end\{\1\}$/s;

function matrixRows(s: string): string[][] | null {
  // A matrix written inside brackets, `\left[\begin{array}…\end{array}\right]`, is the matrix.
  const inner = /^[([](\\begin\{.*\})[)\]]$/s.exec(s);
  const mat = MATRIX.exec(inner ? inner[1]! : s);
  if (!mat) return null;
  let body = mat[2]!;
  if (mat[1] === "array") body = body.replace(/^\{[lcr|]*\}/, "");
  const rows = body
    .split("\\\\")
    .filter((r) => r.trim() !== "")
    .map((r) => r.split("&"));
  return rows.length > 0 && rows.length <= MAX_ITEMS ? rows : null;
}

function shapeOf(s: string): Shape {
  const rows = matrixRows(s);
  if (rows !== null) return { k: "matrix", rows };
  const groups = splitTop(s, ";");
  if (groups.length > 1) return { k: "list", items: expandPm(groups.flatMap(solutionGroup)) };
  const union = splitTop(s, "\\cup");
  if (union.length > 1) return { k: "union", parts: union };
  if (s.startsWith("\\{") && s.endsWith("\\}") && wrapsWhole(s, 0, 2)) {
    return { k: "set", items: expandPm(splitTop(s.slice(2, -2), ",")) };
  }
  if ((s[0] === "(" || s[0] === "[") && (s.endsWith(")") || s.endsWith("]")) && wrapsWhole(s, 0, 1)) {
    const items = splitTop(s.slice(1, -1), ",");
    if (items.length > 1) return { k: "seq", open: s[0], close: s[s.length - 1]!, items };
  }
  const list = expandPm(splitTop(s, ","));
  // `AB=4,CD=5`, `x=1,x=-2`, `a=4,-8`: a list of (named) values, not one equation.
  if (list.length > 1 && list.every((it) => splitTop(it, "=").length <= 2)) return { k: "list", items: list };
  const rel = splitRelation(s);
  if (rel !== null) return { k: "rel", rel };
  let parts = splitTop(s, "=");
  const approx = parts.length === 1;
  if (approx) parts = splitTop(s, "\\approx");
  if (parts.length >= 2 && parts.length <= MAX_ITEMS && parts.every((p) => p !== "")) {
    return { k: "eq", parts, approx };
  }
  return { k: "scalar", s };
}

/**
 * One solution of a `;`-separated list: `p=5,q=2` is the tuple (5,2); a group of plain items
 * (`1,2;3`) is just more items.
 */
function solutionGroup(g: string): string[] {
  const items = splitTop(g, ",");
  if (items.length > 1 && items.every((it) => solutionValue(it) !== it)) {
    return [`(${items.map(solutionValue).join(",")})`];
  }
  return items;
}

/** `a \pm b` stands for the two answers a + b and a - b. */
function expandPm(items: string[]): string[] {
  const out: string[] = [];
  for (const it of items) {
    const parts = it.split(/\\pm(?![a-zA-Z])|\\mp(?![a-zA-Z])/);
    if (parts.length === 2) out.push(`${parts[0]}+${parts[1]}`, `${parts[0]}-(${parts[1]})`);
    else out.push(it);
  }
  return out;
}

/** `x=1`, `(p,q)=(3,2)`, `AB=4` as an element of a list of solutions is the value. */
function solutionValue(item: string): string {
  const parts = splitTop(item, "=");
  return parts.length === 2 && isName(parts[0]!) && parts[1] !== "" ? parts[1]! : item;
}

const NAME_CMDS = new Set([...GREEK, "frac", "mathrm", "mathbf", "text", "overline", "angle", "triangle"]);

/**
 * Whether a left-hand side only names what the right-hand side gives: letters, subscripts,
 * greek letters, and names grouped as a tuple, ratio, function or fraction (`x`, `a_{37}`,
 * `(p,q)`, `S_{MBCN}:S`, `f(x)`, `\frac{NO}{BO}`). No digit (outside subscripts) nor operator.
 */
export function isName(s: string): boolean {
  if (s.length === 0 || s.length > 60) return false;
  const t = s.replace(/_\{[^{}]*\}|_[a-zA-Z0-9]/g, "");
  for (const m of t.matchAll(/\\([a-zA-Z]+)/g)) if (!NAME_CMDS.has(m[1]!)) return false;
  const rest = t.replace(/\\[a-zA-Z]+/g, "a");
  return /[a-zA-Z]/.test(rest) && /^[a-zA-Z{}(),:' ]+$/.test(rest);
}

/**
 * What an equation gives as its answer, when it gives one: the last value of a chain
 * (`x = 5+5+1 = 11`, cut before any `\approx`), the right side of a named value (`k = 1/3`), or
 * of a computation between constants (`\frac12 = 0.5`). Null for a proper equation (`2x+z=1`).
 * In `a \approx b` the value is b for a name a (`x \approx 11`), else the exact a.
 */
function equationValue(parts: string[], approx = false): string | null {
  if (approx && parts.length === 2 && !isName(parts[0]!)) return parts[0]!;
  const last = splitTop(parts[parts.length - 1]!, "\\approx")[0]!;
  if (parts.length > 2) return last;
  if (isName(parts[0]!)) return last;
  return isConstant(parts[0]!) && isConstant(last) ? last : null;
}

function isConstant(s: string): boolean {
  const t = parseLatex(s);
  return t !== null && freeVars(t).size === 0;
}

function anyEqual(a: string, b: string, opts: EquivalenceOptions, nest: number): boolean {
  spend(ITEM_UNITS + a.length + b.length); // the scans below, and the candidate loop calling here
  a = solutionValue(a);
  b = solutionValue(b);
  if (a === b) return true;
  if (nest > MAX_NESTING) return false;
  const sa = shapeOf(a);
  const sb = shapeOf(b);
  return shapesEqual(sa, sb, opts, nest + 1);
}

function ordered(a: string[], b: string[], opts: EquivalenceOptions, nest: number): boolean {
  return a.length === b.length && a.length <= MAX_ITEMS && a.every((x, i) => anyEqual(x, b[i]!, opts, nest));
}

/** Items as a set: values of named items, each distinct text once. */
function distinct(items: string[]): string[] {
  return [...new Set(items.map(solutionValue))];
}

function unordered(a: string[], b: string[], opts: EquivalenceOptions, nest: number): boolean {
  const sa = distinct(a);
  const sb = distinct(b);
  if (sa.length !== sb.length || sa.length > MAX_ITEMS) return false;
  const ka = [...sa].sort();
  const kb = [...sb].sort();
  if (ka.every((x, i) => x === kb[i])) return true;
  const used = new Array<boolean>(sb.length).fill(false);
  outer: for (const x of sa) {
    for (let j = 0; j < sb.length; j++) {
      if (!used[j] && anyEqual(x, sb[j]!, opts, nest)) {
        used[j] = true;
        continue outer;
      }
    }
    return false;
  }
  return true;
}

function shapesEqual(a: Shape, b: Shape, opts: EquivalenceOptions, nest: number): boolean {
  if (a.k === "scalar" && b.k === "scalar") return scalarEqual(a.s, b.s, opts);
  // An equation that gives a value (`k = 1/3`, `x = 5+5+1 = 11`) against an answer that is not
  // an equation: compare the value.
  if ((a.k === "eq") !== (b.k === "eq")) {
    const [e, other] = a.k === "eq" ? [a, b] : [b as Shape & { k: "eq" }, a];
    const v = equationValue(e.parts, e.approx);
    return v !== null && nest <= MAX_NESTING && shapesEqual(shapeOf(v), other, opts, nest + 1);
  }
  if (a.k === "matrix" && b.k === "matrix") {
    return a.rows.length === b.rows.length && a.rows.every((r, i) => ordered(r, b.rows[i]!, opts, nest));
  }
  // A column or row vector may be written as a tuple; a bare list `1,3` as the pair (1,3).
  if ((a.k === "matrix" || a.k === "list") && b.k === "seq") return shapesEqual(b, a, opts, nest);
  if (a.k === "seq" && b.k === "matrix") {
    const flat =
      b.rows.length === 1 ? b.rows[0]! : b.rows.every((r) => r.length === 1) ? b.rows.map((r) => r[0]!) : [];
    return a.open === "(" && a.close === ")" && ordered(a.items, flat, opts, nest);
  }
  if (a.k === "seq" && b.k === "list") {
    return a.open === "(" && a.close === ")" && ordered(a.items, b.items, opts, nest);
  }
  if (a.k === "union" && b.k === "union") return unordered(a.parts, b.parts, opts, nest);
  if (a.k === "seq" && b.k === "seq") {
    return a.open === b.open && a.close === b.close && ordered(a.items, b.items, opts, nest);
  }
  if ((a.k === "set" || a.k === "list") && (b.k === "set" || b.k === "list")) {
    return unordered(a.items, b.items, opts, nest);
  }
  if (a.k === "rel" && b.k === "rel")
    return relationsEqual(a.rel, b.rel, (x, y) => scalarEqual(x, y, opts), opts);
  if (a.k === "eq" && b.k === "eq") return equationsEqual(a, b, opts, nest);
  return false;
}

type Equation = { parts: string[]; approx: boolean };

function equationsEqual(a: Equation, b: Equation, opts: EquivalenceOptions, nest: number): boolean {
  // Two equations that give values (`P(x) = 1`, `z = 1+1 = 2`): compare the values.
  const va = equationValue(a.parts, a.approx);
  const vb = equationValue(b.parts, b.approx);
  if (va !== null && vb !== null && nest <= MAX_NESTING) return anyEqual(va, vb, opts, nest);
  if (a.parts.length !== 2 || b.parts.length !== 2 || a.approx || b.approx) return false;
  const [la, ra] = a.parts as [string, string];
  const [lb, rb] = b.parts as [string, string];
  // Same left side (y = …): compare the right sides; otherwise compare lhs - rhs up to a factor.
  if (la === lb && scalarEqual(ra, rb, opts)) return true;
  const fa = differenceOf(la, ra);
  const fb = differenceOf(lb, rb);
  if (fa === null || fb === null) return false;
  return proportional(fa, fb, opts) === true;
}

function differenceOf(lhs: string, rhs: string): Node | null {
  const l = parseLatex(lhs);
  const r = parseLatex(rhs);
  return l === null || r === null ? null : { t: "sub", a: l, b: r };
}

function isWord(s: string): boolean {
  return /^[a-zA-Z]+$/.test(s);
}

function scalarEqual(a: string, b: string, opts: EquivalenceOptions): boolean {
  if (a === b) return true;
  spend(SCALAR_UNITS);
  // Words (names, "even", "east") compare as text, ignoring case; short letter strings such as
  // "ab" vs "ba" are products and go on to the algebra below.
  if (isWord(a) && isWord(b) && (a.length >= 3 || b.length >= 3)) return a.toLowerCase() === b.toLowerCase();
  const ta = parseLatex(a);
  const tb = parseLatex(b);
  if (ta === null || tb === null) return false;
  // \infty only equals itself, as text (handled above).
  if (hasInfinity(ta) || hasInfinity(tb)) return false;
  const ra: Rational | null = evalRational(ta);
  const rb: Rational | null = ra === null ? null : evalRational(tb);
  if (ra !== null && rb !== null) return rationalEquals(ra, rb);
  return numericEqual(ta, tb, opts) === true;
}
