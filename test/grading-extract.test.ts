import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { EXTRACT_MODES, extractAnswer, isExtractMode } from "../src/grading/index.ts";

describe("extractAnswer: boxed", () => {
  test("takes the last box", () => {
    assert.equal(extractAnswer("first \\boxed{1} then \\boxed{2}.", "boxed"), "2");
  });
  test("nested braces", () => {
    assert.equal(extractAnswer("so $\\boxed{\\frac{1}{\\sqrt{2}}}$", "boxed"), "\\frac{1}{\\sqrt{2}}");
    assert.equal(extractAnswer("\\boxed{\\{1, 2\\}}", "boxed"), "\\{1, 2\\}");
  });
  test("unbraced argument: \\boxed 5 and \\boxed5", () => {
    assert.equal(extractAnswer("The result is $\\boxed 5$.", "boxed"), "5");
    assert.equal(extractAnswer("hence \\boxed 12.", "boxed"), "12");
    assert.equal(extractAnswer("$\\boxed5$", "boxed"), "5");
  });
  test("an unbalanced last box falls back to the previous well-formed one", () => {
    assert.equal(extractAnswer("\\boxed{7} and later \\boxed{8", "boxed"), "7");
  });
  test("no box, empty box, or a longer command name: null", () => {
    assert.equal(extractAnswer("the answer is 5", "boxed"), null);
    assert.equal(extractAnswer("\\boxed{}", "boxed"), null);
    assert.equal(extractAnswer("\\boxedx{3}", "boxed"), null);
    assert.equal(extractAnswer("", "boxed"), null);
  });
  test("boxed mode ignores \\fbox", () => {
    assert.equal(extractAnswer("\\fbox{3}", "boxed"), null);
  });
});

describe("extractAnswer: fbox", () => {
  test("last \\fbox with nesting", () => {
    assert.equal(extractAnswer("\\fbox{1} \\fbox{\\frac{a}{b}}", "fbox"), "\\frac{a}{b}");
    assert.equal(extractAnswer("\\boxed{1}", "fbox"), null);
  });
});

describe("extractAnswer: answer-is", () => {
  test("plain text up to the sentence end, decimals kept", () => {
    assert.equal(extractAnswer("Adding up, the answer is 3.75. Done.", "answer-is"), "3.75");
    assert.equal(extractAnswer("The answer is: 42", "answer-is"), "42");
  });
  test("a math segment after the marker", () => {
    assert.equal(extractAnswer("So the final answer is $\\frac{1}{2}$. I hope", "answer-is"), "\\frac{1}{2}");
    assert.equal(extractAnswer("Final Answer: \\( x^2 \\)", "answer-is"), "x^2");
  });
  test("a box after the marker wins", () => {
    assert.equal(extractAnswer("The answer is $\\boxed{9}$.", "answer-is"), "9");
  });
  test("takes the last marker; none -> null", () => {
    assert.equal(extractAnswer("The answer is 1.\nWait, the answer is 2.", "answer-is"), "2");
    assert.equal(extractAnswer("no marker here 5", "answer-is"), null);
  });
});

describe("extractAnswer: gsm8k", () => {
  test("rest of the line after the last ####", () => {
    assert.equal(extractAnswer("She has 3 + 4 = 7\n#### 1,200\n", "gsm8k"), "1,200");
    assert.equal(extractAnswer("#### 5\nmore\n#### 6", "gsm8k"), "6");
  });
  test("missing or empty -> null", () => {
    assert.equal(extractAnswer("no marker 5", "gsm8k"), null);
    assert.equal(extractAnswer("####   ", "gsm8k"), null);
  });
});

describe("extractAnswer: last-number", () => {
  test("last number with sign, decimals, separators, simple fractions", () => {
    assert.equal(extractAnswer("3 apples and -4.5 pears", "last-number"), "-4.5");
    assert.equal(extractAnswer("It costs $1,234,567 in total.", "last-number"), "1,234,567");
    assert.equal(extractAnswer("ratio 3/4", "last-number"), "3/4");
    assert.equal(extractAnswer("no digits", "last-number"), null);
  });
});

describe("extractAnswer: auto", () => {
  test("boxed before the other markers", () => {
    assert.equal(extractAnswer("The answer is 4. \\boxed{5} #### 6", "auto"), "5");
  });
  test("the later of \\boxed and \\fbox", () => {
    assert.equal(extractAnswer("\\boxed{1} \\fbox{2}", "auto"), "2");
  });
  test("gsm8k, then answer-is, then the last number", () => {
    assert.equal(extractAnswer("The answer is 4.\n#### 6", "auto"), "6");
    assert.equal(extractAnswer("The answer is 4. Then 7 more.", "auto"), "4");
    assert.equal(extractAnswer("we get 10 then 11", "auto"), "11");
    assert.equal(extractAnswer("nothing at all", "auto"), null);
  });
  test("modes are named and checked", () => {
    assert.deepEqual([...EXTRACT_MODES], ["boxed", "fbox", "answer-is", "gsm8k", "last-number", "auto"]);
    assert.equal(isExtractMode("boxed"), true);
    assert.equal(isExtractMode("box"), false);
  });
});
