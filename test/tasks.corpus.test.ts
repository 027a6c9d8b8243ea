import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Rng } from "../src/engine/random.ts";
import { SPECIAL_TOKENS } from "../src/model/tokenizer.ts";
import {
  BASE_EOS,
  type BaseMixture,
  cleanSolution,
  DEFAULT_BASE_MIXTURE,
  formatPrompt,
  INSTRUCT_EOS,
  type PretrainDocument,
  pretrainDocuments,
  readSolution,
  renderSolution,
  sftExamples,
  solutionStyle,
  stopText,
  traceSolution,
} from "../src/tasks/corpus.ts";
import { hasReflection } from "../src/tasks/transitional.ts";
import { generateProblems } from "../src/tasks/world.ts";

// The grader is another module's; this is a plain independent extraction for the tests.
const BOXED = /\\boxed\{(-?\d+)\}/g;

interface Equation {
  x: number;
  op: string;
  y: number;
  z: number;
  /** Written inside a reflection passage (a marker in the sentence before it). */
  reflection: boolean;
}

/** Reads the equations of a solution text back, independently of how the corpus wrote them. */
function parseEquations(body: string): Equation[] {
  const out: Equation[] = [];
  let prevEnd = 0;
  for (const m of body.matchAll(/(\d+) ?([-+*]) ?(\d+) ?(?:=|is) ?(-?\d+)/g)) {
    const before = body.slice(prevEnd, m.index);
    const sentence = before.split(/[.\n]/).pop() ?? "";
    out.push({
      x: Number(m[1]),
      op: m[2]!,
      y: Number(m[3]),
      z: Number(m[4]),
      reflection: hasReflection(sentence),
    });
    prevEnd = m.index + m[0].length;
  }
  return out;
}

const calc = (e: Equation) => (e.op === "+" ? e.x + e.y : e.op === "-" ? e.x - e.y : e.x * e.y);
const carries = (e: Equation) =>
  e.op === "+" ? (e.x % 10) + (e.y % 10) >= 10 : e.op === "-" && e.x % 10 < e.y % 10;
const solutionBody = (d: PretrainDocument) =>
  d.text.slice(formatPrompt(d.problem!, "base").length, -BASE_EOS.length);

/** Within 4 standard errors of a binomial proportion (plus a hair for tiny p). */
function assertRate(observed: number, n: number, p: number, what: string) {
  const tol = 4 * Math.sqrt((p * (1 - p)) / n) + 0.005;
  assert.ok(n > 100, `${what}: only ${n} samples`);
  assert.ok(
    Math.abs(observed / n - p) < tol,
    `${what}: ${observed}/${n} = ${(observed / n).toFixed(3)}, want ${p}`,
  );
}

const UNCAPPED: BaseMixture = { ...DEFAULT_BASE_MIXTURE, maxDocChars: Number.POSITIVE_INFINITY };
const uncapped = pretrainDocuments(11, 3000, UNCAPPED);
const docs = pretrainDocuments(3, 3000);

describe("pretraining corpus", () => {
  it("is reproducible from the seed; document i does not depend on n", () => {
    assert.deepEqual(
      pretrainDocuments(3, 40).map((d) => d.text),
      docs.slice(0, 40).map((d) => d.text),
    );
    const other = pretrainDocuments(4, 40).map((d) => d.text);
    assert.ok(other.filter((t, i) => t === docs[i]!.text).length < 3);
  });

  it("solution documents are prompt + solution + EOS with exactly one \\boxed answer, at the end", () => {
    for (const d of docs) {
      assert.ok(d.text.endsWith(BASE_EOS));
      assert.equal(d.text.indexOf(BASE_EOS), d.text.length - BASE_EOS.length);
      if (d.kind === "filler") {
        assert.doesNotMatch(d.text, /boxed|Problem:|Solution:/);
        continue;
      }
      assert.ok(d.text.startsWith(formatPrompt(d.problem!, "base")));
      const boxed = [...d.text.matchAll(BOXED)].map((m) => m[1]);
      assert.equal(boxed.length, 1, d.text);
      assert.match(d.text, /\\boxed\{-?\d+\}\.?<\|endoftext\|>$/);
      assert.equal(boxed[0], d.finalAnswer);
      assert.equal(d.correct, boxed[0] === d.problem!.answer);
    }
  });

  it("a solution without mistakes boxes the problem's answer, in every reasoning style", () => {
    for (const p of generateProblems("train", 9, 300)) {
      const trace = traceSolution(p, new Rng(p.id), null);
      for (const style of ["terse", "verbose", "stepwise"] as const) {
        const text = renderSolution(trace, style, new Rng(style));
        const boxed = [...text.matchAll(BOXED)].map((m) => m[1]);
        assert.deepEqual(boxed, [p.answer], text);
        const eqs = parseEquations(text);
        assert.equal(eqs.length, p.steps.length);
        for (const e of eqs) assert.equal(e.z, calc(e), text);
      }
    }
  });

  it("solutionStyle reads back the style every solution document was written in", () => {
    const sols = docs.filter((x) => x.kind === "solution");
    assert.ok(new Set(sols.map((d) => d.style)).size === 4, "all four styles present");
    for (const d of sols) assert.equal(solutionStyle(solutionBody(d)), d.style, solutionBody(d));
    assert.equal(solutionStyle(" The old dog sat by the river."), "other");
    assert.equal(solutionStyle(cleanSolution(docs.find((x) => x.kind === "solution")!.problem!)), "verbose");
  });

  it("the text agrees with the bookkeeping: wrong equations = mistakes, extra equations = reflections", () => {
    for (const d of docs.filter((x) => x.kind === "solution")) {
      const body = solutionBody(d);
      const eqs = parseEquations(body);
      if (d.style === "answer-only") {
        assert.equal(eqs.length, 0);
        continue;
      }
      assert.equal(eqs.length, d.problem!.steps.length + d.fixes + d.confirms, body);
      assert.doesNotMatch(body, /(?<!\d)-\d/, "no negative numbers");
      assert.equal(eqs.filter((e) => e.reflection).length, d.fixes + d.confirms, body);
      assert.equal(eqs.filter((e) => e.z !== calc(e)).length, d.mistakes, body);
      assert.ok(
        eqs.filter((e) => e.reflection).every((e) => e.z === calc(e)),
        "reflections recompute correctly",
      );
      assert.equal(hasReflection(body), d.fixes + d.confirms > 0, body);
      // The boxed value is the last value written (a reflection's correction included).
      assert.equal(d.finalAnswer, String(eqs[eqs.length - 1]!.z));
      // Each step works from the values written before it, so mistakes propagate.
      const written = eqs.filter((e) => !e.reflection).map((e) => e.z);
      const steps = d.problem!.steps;
      let k = 0;
      const values: number[] = [];
      for (const e of eqs) {
        if (e.reflection) {
          values[k - 1] = e.z;
          continue;
        }
        const s = steps[k]!;
        if (s.aFrom !== undefined) assert.equal(e.x, values[s.aFrom], body);
        if (s.bFrom !== undefined) assert.equal(e.y, values[s.bFrom], body);
        values[k] = written[k]!;
        k++;
      }
    }
  });

  it("a reflection after a mistake leads to the correct answer; an unreflected mistake to a wrong one", () => {
    let fixedAll = 0;
    let oneLeft = 0;
    for (const d of uncapped.filter((x) => x.kind === "solution" && x.style !== "answer-only")) {
      const eqs = parseEquations(solutionBody(d));
      const wrong = eqs.map((e, i) => ({ e, i })).filter(({ e }) => !e.reflection && e.z !== calc(e));
      const unfixed = wrong.filter(({ i }) => !eqs[i + 1]?.reflection);
      if (wrong.length > 0 && unfixed.length === 0) {
        fixedAll++;
        assert.equal(d.finalAnswer, d.problem!.answer, d.text);
      }
      if (unfixed.length === 1) {
        oneLeft++;
        assert.notEqual(d.finalAnswer, d.problem!.answer, d.text);
      }
    }
    assert.ok(fixedAll > 200 && oneLeft > 200, `${fixedAll} ${oneLeft}`);
  });

  it("mistake and reflection rates match the configured probabilities", () => {
    const m = DEFAULT_BASE_MIXTURE;
    const c = { plain: [0, 0], carry: [0, 0], reflWrong: [0, 0], reflRight: [0, 0] };
    for (const d of uncapped.filter((x) => x.kind === "solution" && x.style !== "answer-only")) {
      const eqs = parseEquations(solutionBody(d));
      eqs.forEach((e, i) => {
        if (e.reflection) return;
        const wrong = e.z !== calc(e);
        const bucket = carries(e) ? c.carry : c.plain;
        bucket[0]! += wrong ? 1 : 0;
        bucket[1]!++;
        const refl = wrong ? c.reflWrong : c.reflRight;
        refl[0]! += eqs[i + 1]?.reflection ? 1 : 0;
        refl[1]!++;
      });
    }
    assertRate(c.plain[0]!, c.plain[1]!, m.stepMistakeProb, "mistakes on plain steps");
    assertRate(c.carry[0]!, c.carry[1]!, m.carryMistakeProb, "mistakes on carry steps");
    assertRate(c.reflWrong[0]!, c.reflWrong[1]!, m.reflectAfterWrongProb, "reflection after a wrong step");
    assertRate(c.reflRight[0]!, c.reflRight[1]!, m.reflectAfterRightProb, "reflection after a right step");

    const n = uncapped.length;
    assertRate(uncapped.filter((d) => d.kind === "filler").length, n, m.fillerDocProb, "filler documents");
    const sols = uncapped.filter((d) => d.kind === "solution");
    const total = Object.values(m.styleWeights).reduce((a, b) => a + b, 0);
    for (const [style, w] of Object.entries(m.styleWeights)) {
      assertRate(sols.filter((d) => d.style === style).length, sols.length, w / total, `style ${style}`);
    }
    const answerOnly = sols.filter((d) => d.style === "answer-only");
    assertRate(
      answerOnly.filter((d) => !d.correct).length,
      answerOnly.length,
      m.answerOnlyWrongProb,
      "wrong guesses",
    );
  });

  it("with the default length cap: about a third wrong, a quarter or more reflect, every document fits", () => {
    const sols = docs.filter((d) => d.kind === "solution");
    const wrong = sols.filter((d) => !d.correct).length / sols.length;
    const reflect = sols.filter((d) => d.fixes + d.confirms > 0).length / sols.length;
    assert.ok(wrong > 0.25 && wrong < 0.4, `wrong fraction ${wrong}`);
    assert.ok(reflect > 0.2 && reflect < 0.4, `reflection fraction ${reflect}`);
    for (const d of docs) assert.ok(d.text.length - BASE_EOS.length <= DEFAULT_BASE_MIXTURE.maxDocChars);
  });

  it("mixture knobs act: no mistakes and no guesses give an all-correct corpus; no reflection gives none", () => {
    const clean = pretrainDocuments(5, 300, {
      ...DEFAULT_BASE_MIXTURE,
      stepMistakeProb: 0,
      carryMistakeProb: 0,
      answerOnlyWrongProb: 0,
    });
    assert.ok(clean.every((d) => d.kind === "filler" || d.correct));
    const noReflect = pretrainDocuments(5, 300, {
      ...DEFAULT_BASE_MIXTURE,
      reflectAfterRightProb: 0,
      reflectAfterWrongProb: 0,
    });
    assert.ok(noReflect.every((d) => d.fixes + d.confirms === 0 && !hasReflection(d.text)));
  });
});

describe("SFT examples and prompts", () => {
  const examples = sftExamples(1, 500);

  it("use the chat template, are always correct, uniform and free of reflection", () => {
    for (const ex of examples) {
      assert.equal(ex.prompt, `<|user|>\n${ex.problem.prompt}\n<|assistant|>\n`);
      assert.equal(ex.text, ex.prompt + ex.completion);
      assert.ok(ex.completion.endsWith(INSTRUCT_EOS));
      const body = ex.completion.slice(0, -INSTRUCT_EOS.length);
      assert.equal(body, cleanSolution(ex.problem));
      assert.deepEqual(
        [...body.matchAll(BOXED)].map((m) => m[1]),
        [ex.problem.answer],
      );
      const eqs = parseEquations(body);
      assert.equal(eqs.length, ex.problem.steps.length);
      for (const e of eqs) assert.equal(e.z, calc(e));
      assert.equal(hasReflection(body), false);
      assert.match(body, /^First, .* So the answer is \\boxed\{\d+\}\.$/);
    }
    assert.deepEqual(
      sftExamples(1, 20).map((e) => e.text),
      examples.slice(0, 20).map((e) => e.text),
    );
  });

  it("formatPrompt gives exactly the prefix of the training documents", () => {
    const p = generateProblems("test-id", 0, 1)[0]!;
    assert.equal(formatPrompt(p, "base"), `Problem: ${p.prompt}\nSolution:`);
    assert.equal(
      formatPrompt(p, "instruct"),
      `${SPECIAL_TOKENS.user}\n${p.prompt}\n${SPECIAL_TOKENS.assistant}\n`,
    );
    assert.equal(stopText("base"), SPECIAL_TOKENS.endOfText);
    assert.equal(stopText("instruct"), SPECIAL_TOKENS.end);
  });
});

describe("readSolution", () => {
  it("reads steps, reflections, fixes and breakages from hand-written solutions", () => {
    const r = readSolution(
      "First, 17 + 25 = 32. Wait, let me check: 17 + 25 = 42, not 32. Then 42 - 8 = 34. " +
        "Hmm, 42 - 8 is 34. That is right. But 34 * 2 = 68. Actually, 34 * 2 = 67. So the answer is \\boxed{67}.",
    );
    assert.equal(r.equations.length, 6);
    assert.deepEqual(
      r.equations.map((e) => e.inReflection),
      [false, true, false, true, false, true],
    );
    assert.deepEqual(
      [r.steps, r.wrongSteps, r.reflections, r.fixes, r.confirmations, r.breakages, r.missedFixes],
      [3, 1, 3, 1, 1, 1, 0],
    );
    const terse = readSolution(
      "\nStep 1: 3*4=13.\nCheck: 3*4=14, not 13.\nStep 2: 14+1=15.\nAnswer: \\boxed{15}",
    );
    assert.deepEqual([terse.steps, terse.wrongSteps, terse.reflections, terse.missedFixes], [2, 1, 1, 1]);
    // A v2 cross-check redoes the chain: its equations are steps, not reflections on the last one.
    const checked = readSolution(
      " 3*4=13. 13+1=14. Check: 3*4=12, 12+1=13. That gives 13, not 14. Wait, 12+1=13. \\boxed{13}",
    );
    assert.deepEqual(
      checked.equations.map((e) => e.inReflection),
      [false, false, false, false, true],
    );
    assert.deepEqual([checked.steps, checked.wrongSteps, checked.reflections], [4, 1, 1]);
    // A reflection about another computation than the step before it is not counted as one.
    const stray = readSolution("2 + 2 = 4. Wait, 3 + 3 = 6.");
    assert.deepEqual([stray.steps, stray.reflections], [1, 0]);
    assert.equal(readSolution("The answer is \\boxed{4}.").equations.length, 0);
  });

  it("agrees with the generator's bookkeeping on the corpus", () => {
    for (const d of docs.filter((x) => x.kind === "solution" && x.style !== "answer-only")) {
      const r = readSolution(solutionBody(d));
      assert.equal(r.wrongSteps, d.mistakes);
      assert.equal(r.fixes, d.fixes);
      assert.equal(r.confirmations, d.confirms);
      assert.equal(r.breakages + r.missedFixes, 0);
    }
  });
});
