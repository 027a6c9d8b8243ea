// The grader must never throw and never hang: seeded random LaTeX soup plus adversarial inputs,
// every call timed against a per-call bound and its counted work held to the work budget.

import assert from "node:assert/strict";
import { test } from "node:test";
import {
  DEFAULT_WORK_BUDGET,
  EXTRACT_MODES,
  extractAnswer,
  gradeAnswer,
  gradeResponse,
  isEquivalent,
} from "../src/grading/index.ts";
import { isAnswerLike, MAX_SCAN } from "../src/grading/segments.ts";
import { PATHOLOGICAL } from "./helpers/grading-pathological.ts";

// Far above the typical cost (well under a millisecond, tens of ms for 100k-character inputs)
// so that a loaded shared machine does not flake, yet any hang or quadratic blow-up fails. This
// only detects hangs: verdicts are bounded by counted work (work.ts), which the clock never cuts.
const PER_CALL_MS = 1000;

// A comparison stops within one charge of its budget; no single charge comes near 10^5 units.
const MAX_WORK = DEFAULT_WORK_BUDGET + 100_000;

function mulberry32(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PIECES = [
  "\\frac",
  "\\dfrac",
  "{",
  "}",
  "{",
  "}",
  "\\sqrt",
  "\\sqrt[3]",
  "^",
  "_",
  "(",
  ")",
  "[",
  "]",
  "\\{",
  "\\}",
  ",",
  ",\\!",
  "+",
  "-",
  "*",
  "/",
  "x",
  "y",
  "a",
  "1",
  "2",
  "9",
  "0",
  "123",
  ".",
  "e",
  "i",
  "E",
  "\\pi",
  "\\infty",
  "\\boxed",
  "\\fbox",
  "\\text",
  "\\mbox",
  "\\left",
  "\\right",
  "\\pm",
  "\\cup",
  "=",
  "%",
  "\\%",
  "\\$",
  "$",
  "^\\circ",
  " ",
  "!",
  "<",
  "\\le",
  ";",
  "\\approx",
  " and ",
  "\\(",
  "\\)",
  "\\cdot",
  "\\times",
  "\\sin",
  "\\log",
  "\\ln",
  "\\binom",
  "&",
  "\\\\",
  "\\begin{pmatrix}",
  "\\end{pmatrix}",
  "#### ",
  "The answer is ",
  "\\",
  "10^{10^{10}}",
  "NaN",
  "Infinity",
  "|",
  "\\in",
  "\u03c0",
  "\u221a",
  "\n",
];

function randomLatex(rand: () => number): string {
  const n = Math.floor(rand() * 30);
  let s = "";
  for (let k = 0; k < n; k++) s += PIECES[Math.floor(rand() * PIECES.length)]!;
  return s;
}

const ADVERSARIAL: string[] = [
  "",
  " ",
  "\\frac{".repeat(10_000),
  `${"\\frac{".repeat(10_000)}1${"}{2}".repeat(10_000)}`,
  "{".repeat(10_000),
  "}".repeat(10_000),
  "(".repeat(5_000) + ")".repeat(5_000),
  "\\left(".repeat(3_000),
  "9".repeat(100_000),
  `1${"0".repeat(99_999)}.5`,
  `-${"7".repeat(100_000)}e-99999`,
  "10^{10^{10}}",
  "2^{2^{2^{2^{2^{2}}}}}",
  "10^{100000}",
  "(x+1)^{100000}",
  "(10^{400})!",
  "\\binom{10^9}{5 \\cdot 10^8}",
  "\\frac{2^{19000}+1}{3^{11000}+7}",
  `\\frac{${"9".repeat(990)}}{${"7".repeat(990)}}`,
  "9999!",
  "\\binom{9999}{5000}",
  "e^{e^{e^{e^{10}}}}",
  "\\sin(10^{300})",
  "1e999999999",
  "\\sqrt{-1}",
  "\\sqrt{-4}",
  "\\sqrt[4]{-16}",
  "\\ln(-1)",
  "\\log 0",
  "\\frac{1}{0}",
  "0/0",
  "NaN",
  "Infinity",
  "-Infinity",
  "\\infty - \\infty",
  "\\boxed{".repeat(5_000),
  "\\text{".repeat(5_000),
  "\\sqrt".repeat(5_000),
  "x^".repeat(3_000),
  `${"1+".repeat(299)}1`,
  `${"x^{".repeat(50)}2${"}".repeat(50)}`,
  "a".repeat(100_000),
  "1,".repeat(30_000),
  `\\{${"1,".repeat(300)}\\}`,
  `\\begin{pmatrix}${"1&".repeat(3_000)}\\end{pmatrix}`,
  "0.".repeat(5_000),
  "\\pm".repeat(100),
  "=".repeat(1_000),
  "\\$".repeat(1_000),
  "%".repeat(1_000),
  "^\\circ".repeat(1_000),
  " ".repeat(100_000),
  "\\".repeat(10_001),
  "(1,2)".repeat(1_000),
  "\\cup".repeat(1_000),
  "x_".repeat(1_000),
  "\\sqrt[".repeat(1_000),
  "\\frac12".repeat(300),
  "#### ".repeat(10_000),
  "The answer is ".repeat(5_000),
  "\u0000\uffff\ud800",
  // Shapes of the free-text pipeline: joined boxes, unclosed and broken math, relations, lists.
  "\\boxed{1} and ".repeat(20_000),
  "\\boxed{1}".repeat(20_000),
  "$".repeat(50_001),
  "$a".repeat(20_000),
  "$$".repeat(10_001),
  "\\(".repeat(20_000),
  `${"\\( x \n".repeat(10_000)}\\)`,
  "\\[".repeat(20_000),
  `${"word ".repeat(20_000)}5`,
  `Final Answer: ${"it is ".repeat(10_000)}`,
  "x<".repeat(2_000),
  "\\le".repeat(2_000),
  "1;".repeat(20_000),
  "p=1,".repeat(5_000),
  `${"a = ".repeat(3_000)}1`,
  "\\approx".repeat(1_000),
  "(1,2)or".repeat(2_000),
  "1 000 ".repeat(5_000),
];

function timed(what: string, f: () => unknown, limitMs = PER_CALL_MS): number {
  const t0 = performance.now();
  assert.doesNotThrow(f, what);
  const dt = performance.now() - t0;
  assert.ok(dt < limitMs, `${what} took ${dt.toFixed(0)} ms`);
  return dt;
}

function exercise(a: string, b: string): number {
  const label = `${JSON.stringify(a.slice(0, 40))} vs ${JSON.stringify(b.slice(0, 40))}`;
  let worst = 0;
  worst = Math.max(
    worst,
    timed(`gradeAnswer ${label}`, () => {
      const { work } = gradeAnswer(a, b);
      assert.ok(work <= MAX_WORK, `gradeAnswer ${label}: ${work} work units`);
    }),
  );
  worst = Math.max(
    worst,
    timed(`gradeResponse ${label}`, () => gradeResponse(a, b)),
  );
  for (const m of EXTRACT_MODES)
    worst = Math.max(
      worst,
      timed(`extract ${m} ${label}`, () => extractAnswer(a, m)),
    );
  return worst;
}

// Load mathjs once before timing (a one-off start-up cost, not a per-call one).
gradeAnswer("x+1", "1+x");

test("adversarial inputs: no throw, bounded time, sane verdicts", (t) => {
  const t0 = performance.now();
  let calls = 0;
  let worst = 0;
  const partners = ["1", "x", "(1,2)", "\\frac{1}{2}", "", ADVERSARIAL[8]!];
  for (const a of ADVERSARIAL) {
    for (const b of partners) {
      worst = Math.max(worst, exercise(a, b), exercise(b, a));
      calls += 2 * (2 + EXTRACT_MODES.length);
    }
  }
  // Values that overflow or are undefined are never "equal" to something else.
  assert.equal(isEquivalent("10^{10^{10}}", "10^{10^{10}}+1"), false);
  assert.equal(isEquivalent("\\frac{1}{0}", "\\frac{2}{0}"), false);
  assert.equal(isEquivalent("NaN", "Infinity"), false);
  assert.equal(isEquivalent("9".repeat(100_000), "9".repeat(100_000)), true);
  assert.equal(isEquivalent("9".repeat(100_000), `${"9".repeat(99_999)}8`), false);
  // Large fractions still compare exactly (unreduced, by cross-multiplication).
  const big = `\\frac{${"9".repeat(990)}}{${"7".repeat(990)}}`;
  assert.equal(isEquivalent(big, `\\frac{${"9".repeat(990)}0}{${"7".repeat(990)}0}`), true);
  assert.equal(isEquivalent(big, `\\frac{${"9".repeat(989)}8}{${"7".repeat(990)}}`), false);
  t.diagnostic(
    `adversarial: ${ADVERSARIAL.length} inputs, ${calls} calls in ${(performance.now() - t0).toFixed(0)} ms, ` +
      `slowest call ${worst.toFixed(1)} ms`,
  );
});

// Pairs crafted to need far more than the budget (seconds of exact or numeric work unbounded):
// each runs out of work, deterministically. A whole budget is tens of ms of CPU (docs/grading.md),
// so the hang bound here is looser than for ordinary calls, for a loaded machine.
const BUDGET_CALL_MS = 5000;

test("pathological pairs: out of work, within the budget, every time", (t) => {
  let worst = 0;
  const pairs = Object.values(PATHOLOGICAL);
  for (const [a, b] of pairs) {
    let first: number | undefined;
    for (let run = 0; run < 2; run++) {
      worst = Math.max(
        worst,
        timed(
          `pathological ${a.slice(0, 30)}`,
          () => {
            const r = gradeAnswer(a, b);
            assert.equal(r.equal, false, "out of budget counts as different");
            assert.ok(r.work > DEFAULT_WORK_BUDGET && r.work <= MAX_WORK, `${r.work} work units`);
            first ??= r.work;
            assert.equal(r.work, first, "the same work on every run");
          },
          BUDGET_CALL_MS,
        ),
      );
    }
  }
  t.diagnostic(
    `pathological: ${pairs.length} pairs, slowest call ${worst.toFixed(1)} ms (wall clock, loaded machine)`,
  );
});

// Bounds that hold whatever the machine's speed: what each stage is allowed to look at.
test("input-size limits of the free-text pipeline", () => {
  // The last statement is searched in the last MAX_SCAN characters only.
  const head = "The count is 7. ";
  assert.equal(extractAnswer(`${head}${"blah ".repeat(MAX_SCAN / 5)}`, "auto"), null);
  assert.equal(extractAnswer(`${"blah ".repeat(MAX_SCAN / 5)}${head}`, "auto"), "7");
  // A text longer than 2,000 characters is never taken whole as an answer.
  assert.equal(isAnswerLike("1+".repeat(999)), true);
  assert.equal(isAnswerLike("1+".repeat(1_001)), false);
  // Answers past the structured length compare as text only (no parse, no algebra).
  const long = `${"1+".repeat(1_100)}1`;
  assert.equal(isEquivalent(long, long), true);
  assert.equal(isEquivalent(long, `${"1+".repeat(1_099)}2`), false);
  // Joined boxes and lists are capped (64 parts) before any comparison work.
  const many = Array.from({ length: 100 }, (_, k) => `\\boxed{${k}}`).join(" and ");
  assert.equal(extractAnswer(many, "auto")?.split(", ").length, 64);
});

test("seeded random LaTeX: no throw, bounded time, reflexive and symmetric", (t) => {
  const rand = mulberry32(20240617);
  const N = 1500;
  const t0 = performance.now();
  let worst = 0;
  let equalPairs = 0;
  for (let k = 0; k < N; k++) {
    const a = randomLatex(rand);
    const b = rand() < 0.3 ? a.replace(/ /g, "") : randomLatex(rand);
    worst = Math.max(worst, exercise(a, b));
    const ab = gradeAnswer(a, b);
    const ba = gradeAnswer(b, a);
    assert.equal(ab.equal, ba.equal, `symmetry: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
    if (ab.equal) equalPairs++;
    // Any answer that normalises to something equals itself.
    if (ab.predNorm !== "") assert.equal(isEquivalent(a, a), true, `reflexive: ${JSON.stringify(a)}`);
  }
  t.diagnostic(
    `random: ${N} pairs (${equalPairs} graded equal) in ${(performance.now() - t0).toFixed(0)} ms, ` +
      `slowest call ${worst.toFixed(1)} ms`,
  );
});

// Random expression trees, rendered two different ways. The oracle is a plain JavaScript
// evaluation of the tree (independent of the grader) at random real points.
type Expr =
  | { k: "int"; v: number }
  | { k: "var"; v: "x" | "y" }
  | { k: "pi" }
  | { k: "add" | "sub" | "mul" | "div"; a: Expr; b: Expr }
  | { k: "pow"; a: Expr; n: number }
  | { k: "sqrt"; a: Expr };

function randomExpr(rand: () => number, depth: number): Expr {
  const r = rand();
  if (depth <= 0 || r < 0.25) {
    const q = rand();
    if (q < 0.55) return { k: "int", v: 1 + Math.floor(rand() * 9) };
    if (q < 0.9) return { k: "var", v: rand() < 0.6 ? "x" : "y" };
    return { k: "pi" };
  }
  if (r < 0.4) return { k: "add", a: randomExpr(rand, depth - 1), b: randomExpr(rand, depth - 1) };
  if (r < 0.52) return { k: "sub", a: randomExpr(rand, depth - 1), b: randomExpr(rand, depth - 1) };
  if (r < 0.7) return { k: "mul", a: randomExpr(rand, depth - 1), b: randomExpr(rand, depth - 1) };
  if (r < 0.82) return { k: "div", a: randomExpr(rand, depth - 1), b: randomExpr(rand, depth - 1) };
  if (r < 0.92) return { k: "pow", a: randomExpr(rand, depth - 1), n: 2 + Math.floor(rand() * 2) };
  return { k: "sqrt", a: randomExpr(rand, depth - 1) };
}

function evalExpr(e: Expr, x: number, y: number): number {
  switch (e.k) {
    case "int":
      return e.v;
    case "var":
      return e.v === "x" ? x : y;
    case "pi":
      return Math.PI;
    case "add":
      return evalExpr(e.a, x, y) + evalExpr(e.b, x, y);
    case "sub":
      return evalExpr(e.a, x, y) - evalExpr(e.b, x, y);
    case "mul":
      return evalExpr(e.a, x, y) * evalExpr(e.b, x, y);
    case "div":
      return evalExpr(e.a, x, y) / evalExpr(e.b, x, y);
    case "pow":
      return evalExpr(e.a, x, y) ** e.n;
    case "sqrt":
      return Math.sqrt(evalExpr(e.a, x, y));
  }
}

/** Style A: \frac, braces, \cdot, \left( \right). */
function renderA(e: Expr): string {
  switch (e.k) {
    case "int":
      return String(e.v);
    case "var":
      return e.v;
    case "pi":
      return "\\pi";
    case "add":
      return `\\left(${renderA(e.a)} + ${renderA(e.b)}\\right)`;
    case "sub":
      return `\\left(${renderA(e.a)} - ${renderA(e.b)}\\right)`;
    case "mul":
      return `${renderA(e.a)} \\cdot ${renderA(e.b)}`;
    case "div":
      return `\\frac{${renderA(e.a)}}{${renderA(e.b)}}`;
    case "pow":
      return `\\left(${renderA(e.a)}\\right)^{${e.n}}`;
    case "sqrt":
      return `\\sqrt{${renderA(e.a)}}`;
  }
}

/** Style B: slashes, implicit products, sums written the other way round, bare exponents. */
function renderB(e: Expr): string {
  switch (e.k) {
    case "int":
      return `${e.v}.0`;
    case "var":
      return e.v;
    case "pi":
      return "\\pi";
    case "add":
      return `(${renderB(e.b)}+${renderB(e.a)})`;
    case "sub":
      return `(-${renderB(e.b)}+${renderB(e.a)})`;
    case "mul":
      return `(${renderB(e.b)})(${renderB(e.a)})`;
    case "div":
      return `(${renderB(e.a)})/(${renderB(e.b)})`;
    case "pow":
      return `(${renderB(e.a)})^${e.n}`;
    case "sqrt":
      return `\\sqrt{${renderB(e.a)}}`;
  }
}

/** The same tree with its first integer leaf increased by one (null when there is none). */
function bumpFirstInt(e: Expr): Expr | null {
  switch (e.k) {
    case "int":
      return { k: "int", v: e.v + 1 };
    case "var":
    case "pi":
      return null;
    case "pow":
    case "sqrt": {
      const a = bumpFirstInt(e.a);
      return a === null ? null : { ...e, a };
    }
    default: {
      const a = bumpFirstInt(e.a);
      if (a !== null) return { ...e, a };
      const b = bumpFirstInt(e.b);
      return b === null ? null : { ...e, b };
    }
  }
}

/** Oracle: do the trees differ at some random real point where both are defined? */
function differs(p: Expr, q: Expr, rand: () => number): boolean | null {
  let defined = 0;
  for (let k = 0; k < 12; k++) {
    const x = 0.3 + 2.4 * rand();
    const y = 0.3 + 2.4 * rand();
    const u = evalExpr(p, x, y);
    const v = evalExpr(q, x, y);
    if (!Number.isFinite(u) || !Number.isFinite(v)) continue;
    defined++;
    if (Math.abs(u - v) > 1e-6 * Math.max(1, Math.abs(u), Math.abs(v))) return true;
  }
  return defined >= 3 ? false : null;
}

test("random expressions: two renderings grade equal; a changed constant grades different", (t) => {
  const rand = mulberry32(7);
  const N = 1000;
  let checkedDiff = 0;
  let undefinedEverywhere = 0;
  const t0 = performance.now();
  for (let k = 0; k < N; k++) {
    const e = randomExpr(rand, 4);
    const a = renderA(e);
    const b = renderB(e);
    // Expressions undefined almost everywhere (a division by x - x) cannot be compared.
    if (differs(e, e, rand) === null) {
      undefinedEverywhere++;
      continue;
    }
    assert.equal(isEquivalent(a, b), true, `${a}  vs  ${b}`);
    const bumped = bumpFirstInt(e);
    if (bumped === null || differs(e, bumped, rand) !== true) continue;
    checkedDiff++;
    assert.equal(isEquivalent(a, renderB(bumped)), false, `${a}  vs  ${renderB(bumped)}`);
  }
  t.diagnostic(
    `random expressions: ${N - undefinedEverywhere} equal pairs (${undefinedEverywhere} undefined ones skipped), ` +
      `${checkedDiff} differing pairs in ${(performance.now() - t0).toFixed(0)} ms`,
  );
});
