import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  applyOp,
  distinctProblems,
  generateProblems,
  isHeldOut,
  isValidation,
  type Problem,
  SPLIT_CONFIG,
  signature,
  verifyProblem,
} from "../src/tasks/world.ts";

/** Independent evaluator for the arithmetic prompts: integers, + - * and parentheses, usual precedence. */
function evaluate(expr: string): number {
  const tokens = expr.match(/\d+|[-+*()]/g) ?? [];
  let i = 0;
  const atom = (): number => {
    const t = tokens[i++];
    if (t === "(") {
      const v = sum();
      assert.equal(tokens[i++], ")");
      return v;
    }
    assert.match(t ?? "", /^\d+$/);
    return Number(t);
  };
  const product = (): number => {
    let v = atom();
    while (tokens[i] === "*") {
      i++;
      v *= atom();
    }
    return v;
  };
  const sum = (): number => {
    let v = product();
    while (tokens[i] === "+" || tokens[i] === "-") {
      const op = tokens[i++];
      const w = product();
      v = op === "+" ? v + w : v - w;
    }
    return v;
  };
  const v = sum();
  assert.equal(i, tokens.length, `trailing tokens in ${expr}`);
  return v;
}

const N = 1500;
const sets = {
  train: generateProblems("train", 1, N),
  "val-id": generateProblems("val-id", 1, N),
  "test-id": generateProblems("test-id", 1, N),
  "test-ood": generateProblems("test-ood", 1, N),
};
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe("world", () => {
  it("is reproducible from the seed; problem i does not depend on n", () => {
    assert.deepEqual(generateProblems("train", 1, 50), sets.train.slice(0, 50));
    const other = generateProblems("train", 2, 50);
    assert.ok(other.filter((p, i) => p.prompt === sets.train[i]!.prompt).length < 5);
    assert.equal(new Set(sets.train.map((p) => p.id)).size, N);
  });

  it("every answer is verified by recomputing the steps", () => {
    for (const ps of Object.values(sets)) {
      for (const p of ps) {
        assert.deepEqual(verifyProblem(p), [], p.prompt);
        assert.match(p.answer, /^\d+$/);
        for (const s of p.steps) assert.equal(applyOp(s.a, s.op, s.b), s.result);
      }
    }
  });

  it("verifyProblem catches a wrong answer, a wrong step and a broken reference", () => {
    const p = sets.train.find((q) => q.steps.length >= 2 && q.steps[1]!.aFrom === 0)!;
    const clone = (): Problem => structuredClone(p);
    const wrongAnswer = clone();
    wrongAnswer.answer = String(Number(p.answer) + 1);
    assert.ok(verifyProblem(wrongAnswer).length > 0);
    const wrongStep = clone();
    wrongStep.steps[0]!.result += 1;
    assert.ok(verifyProblem(wrongStep).length > 0);
    const badRef = clone();
    badRef.steps[1]!.a += 1;
    badRef.steps[1]!.result += 1;
    assert.ok(verifyProblem(badRef).some((e) => /does not match/.test(e)));
  });

  it("arithmetic prompts evaluate (independently) to the answer", () => {
    let checked = 0;
    for (const ps of Object.values(sets)) {
      for (const p of ps.filter((q) => q.kind === "arithmetic")) {
        const m = /^(?:Compute|What is|Calculate|Evaluate) (.+)[.?]$/.exec(p.prompt);
        assert.ok(m, p.prompt);
        assert.equal(String(evaluate(m[1]!)), p.answer, p.prompt);
        checked++;
      }
    }
    assert.ok(checked > 1000);
  });

  it("word problems state every number the steps take from the prompt, and ask one question", () => {
    for (const ps of Object.values(sets)) {
      for (const p of ps.filter((q) => q.kind === "word")) {
        const numbers = new Set((p.prompt.match(/\d+/g) ?? []).map(Number));
        for (const s of p.steps) {
          if (s.aFrom === undefined) assert.ok(numbers.has(s.a), `${s.a} not in ${p.prompt}`);
          if (s.bFrom === undefined) assert.ok(numbers.has(s.b), `${s.b} not in ${p.prompt}`);
        }
        assert.match(p.prompt, /How many \w+ does \w+ have( now)?\?$/);
        assert.equal((p.prompt.match(/\?/g) ?? []).length, 1);
      }
    }
  });

  it("both kinds occur, intermediate results stay in range, prompts stay short", () => {
    for (const [split, ps] of Object.entries(sets)) {
      const cfg = SPLIT_CONFIG[split as keyof typeof sets];
      const word = ps.filter((p) => p.kind === "word").length / ps.length;
      assert.ok(word > 0.05 && word < 0.95, `${split}: word fraction ${word}`);
      for (const p of ps) {
        assert.ok(p.prompt.length <= cfg.maxPromptChars);
        for (const s of p.steps) assert.ok(s.result >= 0 && s.result <= cfg.maxResult);
      }
    }
  });

  it("splits are disjoint: no computation (hence no prompt) of a test split occurs in train", () => {
    const trainSigs = new Set(sets.train.map((p) => signature(p.steps)));
    const trainPrompts = new Set(sets.train.map((p) => p.prompt));
    for (const split of ["val-id", "test-id", "test-ood"] as const) {
      for (const p of sets[split]) {
        assert.ok(isHeldOut(p.steps));
        assert.ok(!trainSigs.has(signature(p.steps)));
        assert.ok(!trainPrompts.has(p.prompt));
      }
    }
    assert.ok(sets.train.every((p) => !isHeldOut(p.steps)));
    // A larger train set still avoids the whole test-id set.
    const bigTrain = new Set(generateProblems("train", 5, 5000).map((p) => signature(p.steps)));
    assert.ok(sets["test-id"].every((p) => !bigTrain.has(signature(p.steps))));
  });

  it("validation and test share no computation, and each holds about half of the held-out ones", () => {
    const testSigs = new Set(sets["test-id"].map((p) => signature(p.steps)));
    const testPrompts = new Set(sets["test-id"].map((p) => p.prompt));
    for (const p of sets["val-id"]) {
      assert.ok(isValidation(p.steps) && !testSigs.has(signature(p.steps)));
      assert.ok(!testPrompts.has(p.prompt));
    }
    assert.ok(sets["test-id"].every((p) => !isValidation(p.steps)));
    const heldOut = generateProblems("test-ood", 3, 2000).map((p) => p.steps);
    const share = heldOut.filter((s) => isValidation(s)).length / heldOut.length;
    assert.ok(share > 0.4 && share < 0.6, `validation share ${share}`);
    assert.ok(
      Math.abs(
        mean(sets["val-id"].map((p) => p.difficulty.numSteps)) -
          mean(sets["test-id"].map((p) => p.difficulty.numSteps)),
      ) < 0.1,
    );
  });

  it("distinct held-out sets: no prompt twice, prefix-stable, ids from the stream", () => {
    const all = generateProblems("test-id", 0, 600);
    const d = distinctProblems("test-id", 0, 500);
    assert.equal(new Set(d.map((p) => p.prompt)).size, 500);
    assert.ok(new Set(all.map((p) => p.prompt)).size < 600, "the raw stream repeats prompts");
    assert.deepEqual(distinctProblems("test-id", 0, 50), d.slice(0, 50));
    const byId = new Map(all.map((p) => [p.id, p]));
    for (const p of d.filter((q) => byId.has(q.id))) assert.deepEqual(p, byId.get(p.id));
  });

  it("test-id matches train's difficulty; test-ood is harder", () => {
    const steps = (ps: Problem[]) => mean(ps.map((p) => p.difficulty.numSteps));
    const maxNum = (ps: Problem[]) => mean(ps.map((p) => p.difficulty.maxNumber));
    assert.ok(Math.abs(steps(sets.train) - steps(sets["test-id"])) < 0.1);
    assert.ok(steps(sets["test-ood"]) > steps(sets.train) + 1.5);
    assert.ok(maxNum(sets["test-ood"]) > maxNum(sets.train) + 3);
    assert.ok(Math.min(...sets["test-ood"].map((p) => p.difficulty.numSteps)) >= 4);
    assert.ok(Math.max(...sets.train.map((p) => p.difficulty.numSteps)) <= 4);
    assert.ok(Math.max(...sets.train.map((p) => p.difficulty.maxNumber)) <= SPLIT_CONFIG.train.maxOperand);
    for (const p of sets.train) {
      assert.equal(p.difficulty.numSteps, p.steps.length);
      assert.equal(p.difficulty.maxNumber, Math.max(...(p.prompt.match(/\d+/g) ?? []).map(Number)));
    }
  });

  it("rejects a bad n", () => {
    assert.throws(() => generateProblems("train", 1, -1), /non-negative integer/);
    assert.throws(() => generateProblems("train", 1, 1.5), /non-negative integer/);
  });
});
