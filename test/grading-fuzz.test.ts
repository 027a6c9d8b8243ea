// The grader must never throw and never hang: seeded random LaTeX soup plus adversarial inputs,
// every call timed against a per-call bound.

import assert from "node:assert/strict";
import { test } from "node:test";
import {
  EXTRACT_MODES,
  extractAnswer,
  gradeAnswer,
  gradeResponse,
  isEquivalent,
} from "../src/grading/index.ts";

// Far above the typical cost (well under a millisecond, tens of ms for 100k-character inputs)
// so that a loaded shared machine does not flake, yet any hang or quadratic blow-up fails.
const PER_CALL_MS = 1000;

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
];

function timed(what: string, f: () => unknown): number {
  const t0 = performance.now();
  assert.doesNotThrow(f, what);
  const dt = performance.now() - t0;
  assert.ok(dt < PER_CALL_MS, `${what} took ${dt.toFixed(0)} ms`);
  return dt;
}

function exercise(a: string, b: string): number {
  const label = `${JSON.stringify(a.slice(0, 40))} vs ${JSON.stringify(b.slice(0, 40))}`;
  let worst = 0;
  worst = Math.max(
    worst,
    timed(`gradeAnswer ${label}`, () => gradeAnswer(a, b)),
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
  t.diagnostic(
    `adversarial: ${ADVERSARIAL.length} inputs, ${calls} calls in ${(performance.now() - t0).toFixed(0)} ms, ` +
      `slowest call ${worst.toFixed(1)} ms`,
  );
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
