import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  equivalenceWork,
  gradeAnswer,
  gradeResponse,
  isEquivalent,
  normalizeAnswer,
} from "../src/grading/index.ts";

// Each family: pairs that must be equal and pairs that must not (hand-written).
function family(name: string, same: Array<[string, string]>, different: Array<[string, string]>): void {
  describe(name, () => {
    for (const [a, b] of same) {
      test(`${a}  ==  ${b}`, () => {
        assert.equal(isEquivalent(a, b), true);
        assert.equal(isEquivalent(b, a), true, "symmetric");
      });
    }
    for (const [a, b] of different) {
      test(`${a}  !=  ${b}`, () => {
        assert.equal(isEquivalent(a, b), false);
        assert.equal(isEquivalent(b, a), false, "symmetric");
      });
    }
  });
}

family(
  "integers, decimals, scientific notation, thousands separators",
  [
    ["42", "42.0"],
    ["-7", "-7.000"],
    ["0.5", ".5"],
    ["1200", "1.2e3"],
    ["1200", "1.2 \\times 10^{3}"],
    ["0.00012", "1.2E-4"],
    ["1,234,567", "1234567"],
    ["10,\\!080", "10080"],
    ["11,\\! 111,\\! 111,\\! 100", "11111111100"],
    ["1{,}000", "1000"],
    ["123456789012345678901234567890", "123456789012345678901234567890.0"],
  ],
  [
    ["42", "43"],
    ["0.5", "0.05"],
    ["1234567", "1234568"],
    ["123456789012345678901234567890", "123456789012345678901234567891"],
    ["1.2e3", "1.2e4"],
    ["-7", "7"],
  ],
);

family(
  "fractions and mixed numbers",
  [
    ["\\frac{1}{2}", "0.5"],
    ["\\dfrac{3}{4}", "\\frac{3}{4}"],
    ["\\tfrac{3}{4}", "3/4"],
    ["\\frac12", "\\frac{1}{2}"],
    ["\\frac 59", "5/9"],
    ["\\frac9{19}", "\\frac{18}{38}"],
    ["-\\frac{35}{9}", "\\frac{-35}{9}"],
    ["-5/4", "-1.25"],
    ["1\\frac{4}{5}", "\\frac{9}{5}"],
    ["137 \\frac{1}{2}", "137.5"],
    ["-1\\frac{1}{2}", "-1.5"],
    ["0.\\overline{3}", "\\frac13"],
    ["1.2\\overline{45}", "\\frac{1233}{990}"],
  ],
  [
    // Rationals compare exactly: a rounded decimal of 1/3 is not 1/3, however long.
    ["\\frac{1}{3}", "0.333"],
    ["\\frac{1}{3}", "0.33333333333333"],
    ["\\frac{1}{2}", "\\frac{2}{1}"],
    ["0.\\overline{3}", "0.3"],
    ["1\\frac{4}{5}", "\\frac{4}{5}"],
    ["3/4", "4/3"],
  ],
);

family(
  "percentages",
  [
    ["20\\%", "20"],
    ["20\\%", "0.2"],
    ["12.5%", "\\frac{1}{8}"],
  ],
  [
    ["20\\%", "2"],
    ["20\\%", "0.02"],
  ],
);

family(
  "roots and pi",
  [
    ["2\\sqrt{2}", "\\sqrt{8}"],
    ["\\sqrt2", "\\sqrt{2}"],
    ["\\frac{\\sqrt{3}}{3}", "\\frac{1}{\\sqrt{3}}"],
    ["\\sqrt[3]{-8}", "-2"],
    ["\\sqrt{-4}", "2i"],
    ["\\frac{\\pi}{2}", "\\frac12\\pi"],
    ["288 \\pi", "\\pi \\cdot 288"],
    ["1200 - 200 \\pi", "-200\\pi+1200"],
    ["5(\\sqrt{3}-1)", "5\\sqrt3 - 5"],
    ["\\frac{1 + \\sqrt{5}}{2}", "1.618033988749895"],
    ["\\sqrt[3]{2}", "2^{1/3}"],
    ["e^{i\\pi}", "-1"],
    ["\\ln 2 + \\ln 3", "\\ln 6"],
    ["|x|", "\\sqrt{x^2}"],
    ["\\arctan 1", "\\frac{\\pi}{4}"],
  ],
  [
    ["2\\sqrt{2}", "\\sqrt{6}"],
    ["\\pi", "3.14"],
    ["\\pi", "3.14159"],
    ["\\sqrt{-4}", "2"],
    ["\\frac{\\pi}{2}", "\\frac{\\pi}{3}"],
  ],
);

family(
  "units, degrees, money, text, presentation",
  [
    ["90^\\circ", "90"],
    ["90^{\\circ}", "90"],
    ["5.4 \\text{ cents}", "5.4"],
    ["864 \\mbox{ inches}^2", "864"],
    ["20\\text{ days}", "20 days"],
    ["5 ft.", "5"],
    ["7 sq units", "7"],
    ["15\\mbox{ cm}^2", "15"],
    ["\\$32,\\!348", "32348"],
    ["\\$18.90", "18.9"],
    ["\\left( 3, \\frac{\\pi}{2} \\right)", "(3,\\frac{\\pi}{2})"],
    ["\\text{Evelyn}", "Evelyn"],
    ["\\text{east}", "East"],
    ["x = 5", "5"],
    ["y = 2x + 3", "2x+3"],
    ["  7 .", "7"],
    ["\\boxed{12}", "12"],
    ["\\cos(6^\\circ)\\sin(12^\\circ)", "\\sin 12^\\circ \\cos 6^\\circ"],
  ],
  [
    ["90^\\circ", "91"],
    ["5.4 \\text{ cents}", "5.5"],
    ["\\text{Evelyn}", "Evelin"],
    ["\\text{east}", "west"],
    ["\\cos(6^\\circ)", "\\cos(6)"],
  ],
);

family(
  "multiple-choice letters",
  [
    ["(B)", "B"],
    ["\\text{(B)}", "B"],
    ["(\\text{H})", "\\text{(H)}"],
    ["\\textbf{(C)}", "C"],
  ],
  [
    ["(B)", "C"],
    ["\\text{(B)}", "(D)"],
    ["B", "b"],
  ],
);

family(
  "tuples, intervals, sets, lists, matrices",
  [
    ["(1,2)", "\\left( 1 , 2 \\right)"],
    ["(\\frac{3}{2}, -13)", "(1.5,-13)"],
    ["(3,4]", "\\left(3, 4\\right]"],
    ["(-\\infty, 0]", "(-\\infty,0]"],
    ["(2,\\infty)", "(2, +\\infty)"],
    ["(0,9) \\cup (9,36)", "(9,36)\\cup(0,9)"],
    ["\\{1,2,3\\}", "\\{3,1,2\\}"],
    ["3, 5, 7", "7,5,3"],
    ["1 \\pm \\sqrt{19}", "1-\\sqrt{19}, 1+\\sqrt{19}"],
    ["\\{1\\pm\\sqrt{5},-2\\}", "\\{-2, 1+\\sqrt5, 1-\\sqrt5\\}"],
    ["\\begin{pmatrix} -1 & 0 \\\\ 0 & -1 \\end{pmatrix}", "\\begin{bmatrix}-1&0\\\\0&-1\\end{bmatrix}"],
    ["\\begin{pmatrix} 1/5 \\\\ -18/5 \\end{pmatrix}", "(0.2, -3.6)"],
    ["((1,2),(3,4))", "((1, 2), (3.0, 4))"],
    ["x=1, x=-2", "-2, 1"],
    ["3 and 4", "4, 3"],
    ["1 \\text{ or } 2", "1,2"],
  ],
  [
    ["(1,2)", "(2,1)"],
    ["(3,4]", "(3,4)"],
    ["[3,4]", "(3,4)"],
    ["(-\\infty, 0]", "(-\\infty, 1]"],
    ["(1,2)", "(1,2,3)"],
    ["\\{1,2,3\\}", "\\{1,2,4\\}"],
    ["3, 5, 7", "3, 5"],
    ["1 \\pm \\sqrt{19}", "1+\\sqrt{19}"],
    ["\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}", "\\begin{pmatrix} 1 & 3 \\\\ 2 & 4 \\end{pmatrix}"],
    ["(0,9) \\cup (9,36)", "(0,9) \\cup (9,35)"],
    ["(1,2)", "3"],
  ],
);

family(
  "algebraic expressions and equations",
  [
    ["(x+1)^2", "x^2+2x+1"],
    ["x^2 + 12x + 35", "(x+5)(x+7)"],
    ["19x(x^2+4)", "19x^3 + 76x"],
    ["\\frac{11+9a}{20}", "\\frac{11}{20} + \\frac{9a}{20}"],
    ["p - q", "-q + p"],
    ["6 - 5i", "-5i+6"],
    ["\\cot x", "\\frac{\\cos x}{\\sin x}"],
    ["\\sin^2 x + \\cos^2 x", "1"],
    ["\\frac{1}{2^{98}}", "2^{-98}"],
    ["x^{10}", "(x^5)^2"],
    ["e^{\\ln 2}", "2"],
    ["\\log_2 8", "3"],
    ["\\binom{5}{2}", "10"],
    ["5!", "120"],
    ["\\frac{2005}{2005!}", "\\frac{1}{2004!}"],
    ["\\binom{100}{50}", "100891344545564193334812497256"],
    ["\\sin(\\pi)", "0"],
    ["(x-x)^3", "0"],
    ["5x - 7y + 11z + 4 = 0", "-10x+14y-22z-8=0"],
    ["y = 2x + 3", "y=3+2x"],
  ],
  [
    ["(x+1)^2", "x^2+2x"],
    ["(x+1)^2", "x^2+1"],
    ["\\sqrt{x^2}", "x"],
    ["p - q", "q - p"],
    ["6 - 5i", "6 + 5i"],
    ["x", "y"],
    ["2k+2", "2k+1"],
    ["5x - 7y + 11z + 4 = 0", "5x - 7y + 11z - 4 = 0"],
    ["x^{10}", "x^{11}"],
    ["\\binom{100}{50}", "100891344545564193334812497257"],
  ],
);

family(
  "degenerate inputs",
  [],
  [
    ["", ""],
    ["", "0"],
    ["10^{10^{10}}", "10^{10^{10}}+1"],
    ["\\infty", "10^{400}"],
    ["NaN", "Infinity"],
    ["\\frac{1}{0}", "\\frac{2}{0}"],
    // Overflow and underflow must not make different values look equal (0 = 0).
    ["\\frac{1}{2004!}", "\\frac{1}{2006!}"],
    ["e^{-1000}", "e^{-1001}"],
    ["\\frac{1}{e^{1000}}", "\\frac{1}{e^{1001}}"],
    ["2^{-2000}", "2^{-2001}"],
  ],
);

describe("work budget", () => {
  test("large sets of expressions compare within the budget; past it they count as different", () => {
    const items = Array.from({ length: 40 }, (_, k) => `(x+${k})^{3}(y-${k})`);
    const a = `\\{${items.join(",")}\\}`;
    const b = `\\{${items
      .map((x) => `${x}+0`)
      .reverse()
      .join(",")}\\}`;
    const full = equivalenceWork(a, b);
    assert.deepEqual([full.equal, full.exhausted], [true, false]);
    assert.ok(full.used > 100_000, `a large comparison: ${full.used} units`);
    // Out of budget: different, and it stopped there (within one charge of the budget).
    const cut = equivalenceWork(a, b, { workBudget: 10_000 });
    assert.deepEqual([cut.equal, cut.exhausted], [false, true]);
    assert.ok(cut.used < 20_000, `${cut.used} units`);
    assert.equal(isEquivalent(a, b, { workBudget: 0 }), false);
  });
});

family(
  "relations: spellings, flipped sides, negated sides",
  [
    ["x \\ge 3", "x >= 3"],
    ["y \\lt 2", "y < 2"],
    ["t \\gt 0", "t > 0"],
    ["t \\neq 1", "t != 1"],
    ["t \\ne 1", "1 \\neq t"],
    ["x \\le 4", "4 \\geq x"],
    ["x > 2", "-x < -2"],
    ["x > 2", "2x > 4"],
    ["-3 < x \\le 1", "1 \\ge x > -3"],
    ["n \\geqslant 7", "n \u2265 7"],
  ],
  [
    ["x \\ge 3", "x \\le 3"],
    ["x > 2", "x > -2"],
    ["x > 2", "-2x > -4"],
    ["x < 2", "x \\le 2"],
    ["x \\ne 2", "x = 2"],
    ["-3 < x \\le 1", "-3 \\le x < 1"],
    ["x > 2", "2"],
  ],
);

family(
  "equations that give a value, named values, ratios",
  [
    ["x = 2+3 = 5", "5"],
    ["a = 7", "7"],
    ["\\frac{6}{3} = 2", "2"],
    ["y \\approx 2.5", "2.5"],
    ["\\frac{1}{7} \\approx 0.14", "\\frac{1}{7}"],
    ["w = 3 \\cdot 4 = 12", "w = 6+6 = 12"],
    ["(a,b) = (4,-1)", "(4,-1)"],
    ["PQ = 3, RS = 8", "3, 8"],
    ["A:B = 2:5", "2:5"],
    ["\\frac{AM}{MB} = \\frac{2}{3}", "\\frac{2}{3}"],
    ["g(t) = 4", "G(t) = 4"],
    ["y = 2x - 1", "4x - 2y - 2 = 0"],
    ["\\frac{2}{5},", "\\frac25"],
  ],
  [
    ["3 = 2b + 1", "2b+1"],
    ["2a - b = 4", "4"],
    ["x + y = 3", "3"],
    ["x = 2+3 = 5", "6"],
    ["(a,b) = (4,-1)", "(-1,4)"],
    ["A:B = 2:5", "5:2"],
    ["\\frac{1}{7} \\approx 0.14", "0.14"],
    ["y = 2x - 1", "4x - 2y + 2 = 0"],
    ["1, 2, 3", "1, 2, 3, ..."],
  ],
);

family(
  "lists of solutions, sets without repeats, pairs",
  [
    ["m=1,n=2;m=3,n=4", "(1,2),(3,4)"],
    ["m = 1, n = 2 \\text{ and } m = 3, n = 4", "m=3,n=4;m=1,n=2"],
    ["(5,6),(6,5)", "(6,5),(5,6),(6,5)"],
    ["(1;0;2),(0;0;0)", "(0,0,0),(1,0,2)"],
    ["-4;-1;3", "\\{3,-1,-4\\}"],
    ["(8,1)or(1,8)", "(1,8),(8,1)"],
    ["(2,5)", "{2,5}"],
    ["q = -2 \\text{ and } q = \\frac{1}{2}", "q=\\frac12,q=-2"],
    ["9, 4, and 1", "1, 4, 9"],
  ],
  [
    ["m=1,n=2;m=3,n=4", "(1,2),(4,3)"],
    ["(5,6),(6,5)", "(5,6)"],
    ["(5,2)", "{2,5}"],
    ["-4;-1;3", "\\{3,-1,4\\}"],
    ["9, 4, and 1", "1, 4"],
  ],
);

family(
  "number formats: decimal commas, spaced thousands, mixed numbers, matrices in brackets",
  [
    ["3.25", "3,25"],
    ["0.125", "0,125"],
    ["2500", "2 500"],
    ["1500.5", "1,500.5"],
    ["\\frac{40}{9}", "4 4/9"],
    ["-\\frac{13}{4}", "-3 1/4"],
    ["15\\%", "15 percent"],
    ["\\frac{1}{2}", "\\\\frac{1}{2}"],
    ["\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", "\\left[\\begin{array}{cc}1&2\\\\3&4\\end{array}\\right]"],
    ["\\frac{1}{3}", "\\[\\frac{1}{3}.\\]"],
  ],
  [
    ["12345", "12, 345"],
    ["1.2", "1,2"],
    ["4", "4 4/9"],
    ["\\frac{71}{6}", "11 7/6"],
    ["\\frac{71}{6}", "11\n5/6"],
    ["\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", "\\left[\\begin{array}{cc}1&2\\\\3&5\\end{array}\\right]"],
  ],
);

describe("a relation in the reference accepts its interval, not the reverse", () => {
  test("gold -2 <= x <= 7, answer [-2, 7]", () => {
    assert.equal(isEquivalent("x \\in [-2,7]", "-2 \\le x \\le 7"), true);
    assert.equal(isEquivalent("(0,1)", "0 < f(x) < 1"), true);
    assert.equal(isEquivalent("[0,1)", "0 < f(x) < 1"), false);
  });
  test("gold [-2, 7], answer -2 <= x <= 7", () => {
    assert.equal(isEquivalent("-2 \\le x \\le 7", "[-2,7]"), false);
  });
});

describe("gradeAnswer / gradeResponse", () => {
  test("gradeAnswer reports normalised forms", () => {
    const r = gradeAnswer("\\dfrac{1}{2}\\text{ cm}", "0.5");
    const { work, ...rest } = r;
    assert.deepEqual(rest, { equal: true, predNorm: "\\frac{1}{2}", goldNorm: "0.5" });
    assert.ok(work > 0, "a comparison beyond text equality spends work");
    assert.equal(normalizeAnswer("\\left( 3, \\frac{\\pi}{2} \\right)"), "(3,\\frac{\\pi}{2})");
  });
  test("gradeResponse extracts then compares", () => {
    const r = gradeResponse("We get $x = 4$, so the answer is $\\boxed{\\frac{8}{2}}$.", "4");
    assert.equal(r.equal, true);
    assert.equal(r.extracted, "\\frac{8}{2}");
    assert.equal(gradeResponse("I cannot solve this.", "4").equal, false);
    assert.equal(gradeResponse("I cannot solve this.", "4").extracted, null);
    assert.equal(gradeResponse("#### 1,200", "1200").equal, true);
    assert.equal(gradeResponse("\\boxed{3} #### 4", "4", { mode: "gsm8k" }).equal, true);
  });
  test("non-string inputs do not throw", () => {
    const hostile = {
      toString(): string {
        throw new Error("no");
      },
    };
    const bad = [undefined, null, 5, {}, hostile, Symbol("s")] as unknown as string[];
    for (const x of bad) {
      assert.doesNotThrow(() => gradeAnswer(x, "5"));
      assert.doesNotThrow(() => gradeResponse(x, x));
    }
    assert.equal(gradeAnswer(5 as unknown as string, "5").equal, true);
  });
});
