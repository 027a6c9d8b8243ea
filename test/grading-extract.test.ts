import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  EXTRACT_MODES,
  extractAnswer,
  goldAnswer,
  gradeResponse,
  isExtractMode,
} from "../src/grading/index.ts";

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

describe("extractAnswer: free text with no box", () => {
  test("Minerva's closing sentence, with no $", () => {
    assert.equal(
      extractAnswer("Final Answer: The final answer is 3.25. I hope it is correct.", "auto"),
      "3.25",
    );
    assert.equal(extractAnswer("Final Answer: The tallest tree is 14 m.", "auto"), "14 m");
    assert.equal(
      extractAnswer("Final Answer: She walked 6 miles in all. I hope it is correct.", "auto"),
      "6",
    );
  });
  test("an answer sentence holding two candidates is not guessed from", () => {
    assert.equal(extractAnswer("The answer is 5, not 3.", "auto"), "5, not 3");
  });
  test("the last statement: a number or a math segment, whichever comes last", () => {
    assert.equal(extractAnswer("Adding them, the number of marbles is 41.", "auto"), "41");
    assert.equal(extractAnswer("So the point is $(2, -5)$. <|im_end|>", "auto"), "(2, -5)");
    assert.equal(extractAnswer("We conclude \\( \\frac{3}{4} \\)", "auto"), "\\frac{3}{4}");
    assert.equal(extractAnswer("Using $a^2+b^2$ we get the length 13.", "auto"), "13");
  });
  test("a text that is an answer, not prose, is the answer", () => {
    assert.equal(extractAnswer("-\\frac{7}{3}", "auto"), "-\\frac{7}{3}");
    assert.equal(extractAnswer("x \\geq 5", "auto"), "x \\geq 5");
    assert.equal(extractAnswer("$2$ and $7$", "auto"), "$2$ and $7$");
  });
  test("no number glued to a word, none inside broken math", () => {
    assert.equal(extractAnswer("The code is QX7B.", "auto"), null);
    assert.equal(extractAnswer("Answer $ \n 4 \n $", "auto"), null);
    assert.equal(extractAnswer("Answer \\( \n 4 \n \\)", "auto"), null);
    assert.equal(extractAnswer("Answer \\[ \n 4 \n \\]", "auto"), "4");
  });
  test("a decimal comma survives extraction", () => {
    assert.equal(extractAnswer("Le prix : 3,50 $ environ.", "auto"), "3,50");
  });
});

describe("extractAnswer: several boxes", () => {
  test("boxes joined by a connective are one answer", () => {
    assert.equal(extractAnswer("so \\boxed{4} and \\boxed{-1}.", "auto"), "4, -1");
    assert.equal(extractAnswer("$\\boxed{3}\\boxed{5}$", "auto"), "3, 5");
    assert.equal(extractAnswer("\\boxed{(1,2)}, \\boxed{(2,1)}", "boxed"), "(1,2), (2,1)");
    assert.equal(
      extractAnswer("\\(\\boxed{a=1}\\) \\quad \\text{and} \\quad \\(\\boxed{b=2}\\)", "auto"),
      "a=1, b=2",
    );
  });
  test("boxes apart, or restating one answer with 'or', are not joined", () => {
    assert.equal(extractAnswer("$$\\boxed{8}$$ \\boxed{9}", "auto"), "9");
    assert.equal(extractAnswer("\\boxed{2} then \\boxed{3}", "auto"), "3");
    assert.equal(extractAnswer("$\\boxed{1\\frac12}$ or $\\boxed{\\frac32}$", "auto"), "\\frac32");
  });
  test("an answer sentence after the last box restates the answer and wins", () => {
    assert.equal(
      extractAnswer("first \\boxed{10}; fixing it, Final Answer: The final answer is $12$.", "auto"),
      "12",
    );
    assert.equal(extractAnswer("The answer is 4. \\boxed{5}", "auto"), "5");
  });
});

describe("goldAnswer: the reference parsed like a response", () => {
  test("wrappers fall away; prose with no marker stays whole", () => {
    assert.equal(goldAnswer("\\(\\boxed{\\text{B}}\\)."), "\\text{B}");
    assert.equal(goldAnswer("The answer is $7$."), "7");
    assert.equal(goldAnswer("She pays 3 + 4 = 7\n#### 7"), "7");
    assert.equal(goldAnswer("$x = 4$"), "$x = 4$");
    assert.equal(goldAnswer("2 apples and 3 pears"), "2 apples and 3 pears");
  });
  test("gradeResponse parses both sides with the same pipeline", () => {
    assert.equal(gradeResponse("Therefore $\\boxed{\\text{(B)}}$.", "\\(\\boxed{\\text{B}}\\).").equal, true);
    assert.equal(gradeResponse("so $y = 4$.", "$y=4$").equal, true);
    assert.equal(gradeResponse("so $y = 5$.", "$y=4$").equal, false);
    assert.equal(gradeResponse("$\\boxed{-1, 3}$", "\\(\\boxed{3}\\) and \\(\\boxed{-1}\\)").equal, true);
  });
});
