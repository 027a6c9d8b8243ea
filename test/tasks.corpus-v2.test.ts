import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Rng } from "../src/engine/random.ts";
import { BASE_EOS, readSolution } from "../src/tasks/corpus.ts";
import {
  DEFAULT_MIXTURE_V2,
  drawWriter,
  isHardStep,
  type MixtureV2,
  type PretrainDocumentV2,
  planSolution,
  pretrainDocumentsV2,
  recheckParts,
} from "../src/tasks/corpus-v2.ts";
import { applyOp, drawProblem } from "../src/tasks/world.ts";

const N = 3000;
const mix = (informativeness: number): MixtureV2 => ({ ...DEFAULT_MIXTURE_V2, informativeness });
const solutions = (docs: PretrainDocumentV2[]) => docs.filter((d) => d.kind === "solution");
const share = <T>(xs: T[], f: (x: T) => boolean) => xs.filter(f).length / xs.length;
const body = (d: PretrainDocumentV2) => d.text.slice(d.text.indexOf("Solution:") + 9, -BASE_EOS.length);
// Counted independently of the corpus's word lists: a hedge is any of these at a word start.
const HEDGED = /(?:^|[\s:,])(?:I think|maybe|um,|uh,|probably|I guess)\b/;

describe("v2 corpus", () => {
  const docs1 = pretrainDocumentsV2(0, N, mix(1));
  const docs0 = pretrainDocumentsV2(0, N, mix(0));

  it("is reproducible, and document i depends only on (seed, i)", () => {
    const again = pretrainDocumentsV2(0, 50, mix(1));
    assert.deepEqual(
      again.map((d) => d.text),
      docs1.slice(0, 50).map((d) => d.text),
    );
    assert.notDeepEqual(
      pretrainDocumentsV2(1, 50, mix(1)).map((d) => d.text),
      again.map((d) => d.text),
    );
  });

  it("fits the context and ends every document with the EOS", () => {
    for (const d of docs1) {
      assert.ok(d.text.endsWith(BASE_EOS));
      assert.ok(d.text.length - BASE_EOS.length <= DEFAULT_MIXTURE_V2.maxDocChars, d.text);
    }
  });

  it("rejects an informativeness outside [0, 1]", () => {
    assert.throws(() => pretrainDocumentsV2(0, 1, mix(1.5)), /informativeness must be in \[0, 1\]/);
  });

  it("labels correctness by the boxed answer, and drift or no answer is never correct", () => {
    for (const d of solutions(docs1)) {
      const boxes = [...body(d).matchAll(/\\boxed\{(\d+)\}/g)].map((m) => m[1]);
      if (d.drift === "no-answer") assert.equal(boxes.length, 0, d.text);
      if (d.drift === "other-problem" || d.drift === "no-answer") assert.equal(d.correct, false);
      if (!d.drift && d.style !== "answer-only")
        assert.equal(d.correct, boxes.at(-1) === d.problem!.answer, d.text);
    }
  });

  it("at κ = 1 hedging marks unreliable text: hedged documents are much less often correct", () => {
    const sol = solutions(docs1);
    const hedged = sol.filter((d) => HEDGED.test(body(d)));
    const plain = sol.filter((d) => !HEDGED.test(body(d)));
    const gap = share(plain, (d) => !!d.correct) - share(hedged, (d) => !!d.correct);
    assert.ok(gap > 0.15, `gap ${gap}`);
    // Careful writers never hedge their steps in coupled documents (guesses and drift aside).
    const careful = sol.filter((d) => d.reliability === "careful" && d.style !== "answer-only" && !d.drift);
    assert.equal(
      share(careful, (d) => HEDGED.test(body(d))),
      0,
    );
  });

  it("at κ = 0 hedging says nothing about correctness, at about the same per-step rate", () => {
    const sol = solutions(docs0);
    const hedged = sol.filter((d) => HEDGED.test(body(d)));
    const plain = sol.filter((d) => !HEDGED.test(body(d)));
    const gap = share(plain, (d) => !!d.correct) - share(hedged, (d) => !!d.correct);
    assert.ok(Math.abs(gap) < 0.06, `gap ${gap}`);
    const perStep = (docs: PretrainDocumentV2[]) => {
      let steps = 0;
      let hedges = 0;
      for (const d of solutions(docs)) {
        const r = readSolution(body(d));
        steps += r.steps;
        hedges += [...body(d).matchAll(/(?:^|[\s:,])(?:I think|maybe|um,|uh,|probably|I guess) \d/g)].length;
      }
      return hedges / steps;
    };
    const r0 = perStep(docs0);
    const r1 = perStep(docs1);
    assert.ok(Math.abs(r0 - r1) < 0.03, `per-step hedge rate ${r0} vs ${r1}`);
  });

  it("at κ = 1 a writer loses the thread only after an uncaught slip; at κ = 0 after any step", () => {
    const drifted1 = solutions(docs1).filter((d) => d.drift && d.coupled);
    assert.ok(drifted1.length > 50);
    for (const d of drifted1) assert.ok(d.mistakes > d.fixes, d.text);
    const drifted0 = solutions(docs0).filter((d) => d.drift);
    assert.ok(share(drifted0, (d) => d.mistakes === 0) > 0.5);
    // The overall drift rate stays within a few points across κ.
    const rate = (docs: PretrainDocumentV2[]) => share(solutions(docs), (d) => !!d.drift);
    assert.ok(Math.abs(rate(docs1) - rate(docs0)) < 0.04, `${rate(docs1)} vs ${rate(docs0)}`);
  });

  it("reflection follows hard steps whatever their outcome, and fixes most wrong ones", () => {
    const m = mix(1);
    let afterHard = 0;
    let hard = 0;
    let afterEasy = 0;
    let easy = 0;
    let hardWrong = 0;
    let reflectHardWrong = 0;
    let fixed = 0;
    let wrongReflected = 0;
    for (let i = 0; i < 3000; i++) {
      const rng = new Rng(`t/${i}`);
      const problem = drawProblem(rng.fork("p"), "train", `t-${i}`);
      const plan = planSolution(problem, rng, m, drawWriter(rng, m));
      plan.events.forEach((e, j) => {
        if (e.type !== "step") return;
        const next = plan.events[j + 1];
        const reflected = next?.type === "reflect";
        if (isHardStep(e.a, e.op, e.b, m.hardProduct)) {
          hard++;
          if (reflected) afterHard++;
          if (e.written !== e.correct) {
            hardWrong++;
            if (reflected) reflectHardWrong++;
          }
        } else {
          easy++;
          if (reflected) afterEasy++;
        }
        if (reflected && e.written !== e.correct) {
          wrongReflected++;
          if (next.fixed) fixed++;
        }
      });
    }
    assert.ok(Math.abs(afterHard / hard - m.reflectHardProb) < 0.03, `${afterHard / hard}`);
    assert.ok(Math.abs(afterEasy / easy - m.reflectEasyProb) < 0.01, `${afterEasy / easy}`);
    // Outcome-blind: after wrong hard steps reflection comes at the same rate as after any hard step.
    assert.ok(
      Math.abs(reflectHardWrong / hardWrong - m.reflectHardProb) < 0.06,
      `${reflectHardWrong / hardWrong}`,
    );
    assert.ok(fixed / wrongReflected > 0.8, `${fixed / wrongReflected}`);
  });

  // An equation written against its style's habit (terse writes "7+8=15", the others "7 + 8 = 15").
  const irregular = (d: PretrainDocumentV2) => {
    const spaced = d.style !== "terse";
    return [...body(d).matchAll(/\d( ?)[-+*]( ?)\d+( ?)=( ?)\d/g)].some((m) =>
      m.slice(1).some((gap) => (gap === " ") !== spaced),
    );
  };
  const correctGap = (docs: PretrainDocumentV2[], f: (d: PretrainDocumentV2) => boolean) => {
    const sol = solutions(docs).filter((d) => d.style !== "answer-only");
    return (
      share(
        sol.filter((d) => !f(d)),
        (d) => !!d.correct,
      ) - share(sol.filter(f), (d) => !!d.correct)
    );
  };

  it("at κ = 1 a sloppy manner marks unreliable text; at κ = 0 it says nothing, at the same rate", () => {
    const gap1 = correctGap(docs1, irregular);
    const gap0 = correctGap(docs0, irregular);
    assert.ok(gap1 > 0.15, `κ = 1: gap ${gap1}`);
    assert.ok(Math.abs(gap0) < 0.06, `κ = 0: gap ${gap0}`);
    const rate = (docs: PretrainDocumentV2[]) => share(solutions(docs), irregular);
    assert.ok(Math.abs(rate(docs1) - rate(docs0)) < 0.03, `${rate(docs1)} vs ${rate(docs0)}`);
    // Careful writers of coupled documents write every equation in their style's habit.
    for (const d of solutions(docs1))
      if (d.coupled && d.reliability === "careful" && d.drift !== "other-problem")
        assert.ok(!irregular(d), d.text);
  });

  it("a re-check works through easier parts that end at the step's true value", () => {
    let split = 0;
    for (let a = 0; a <= 40; a++)
      for (let b = 0; b <= 40; b++)
        for (const op of ["+", "-", "*"] as const) {
          const v = applyOp(a, op, b);
          if (v < 0 || v > 60 || (op === "*" && (a < 2 || b < 2))) continue;
          const parts = recheckParts(a, op, b);
          if (!parts.length) continue;
          split++;
          for (const [x, o, y, z] of parts) {
            assert.equal(applyOp(x, o, y), z, `${a}${op}${b}: ${x}${o}${y}=${z}`);
            // Each part is easy, a to-ten / from-ten / times-5-or-10 step, or a smaller product.
            const round =
              x % 10 === 0 || y % 10 === 0 || z % 10 === 0 || (o === "*" && (x === 5 || x === 10));
            const smaller = o === "*" && z < v;
            assert.ok(!isHardStep(x, o, y, 12) || round || smaller, `${a}${op}${b}: part ${x}${o}${y}=${z}`);
          }
          assert.equal(parts.at(-1)![3], v);
        }
    assert.ok(split > 300, `${split} steps split`);
    assert.deepEqual(recheckParts(27, "+", 8), [
      [27, "+", 3, 30],
      [30, "+", 5, 35],
    ]);
    assert.deepEqual(recheckParts(3, "+", 4), []);
  });

  it("a re-check that writes its remainder adds the operand's split and keeps every other part", () => {
    for (let a = 0; a <= 40; a++)
      for (let b = 0; b <= 12; b++)
        for (const op of ["+", "-", "*"] as const) {
          const parts = recheckParts(a, op, b);
          const written = recheckParts(a, op, b, "make-ten-remainder");
          if (!parts.length) {
            assert.deepEqual(written, []);
            continue;
          }
          assert.equal(written.length, parts.length + 1, `${a}${op}${b}`);
          const extra = written.filter((p) => !parts.some((q) => q.join() === p.join()));
          assert.equal(extra.length, 1, `${a}${op}${b}: ${JSON.stringify(written)}`);
          const [x, o, y, z] = extra[0]!;
          assert.equal(o, "-");
          assert.equal(x - y, z);
          // The remainder is computed before a later part uses it.
          const at = written.indexOf(extra[0]!);
          assert.ok(
            written.slice(at + 1).some((p) => p[0] === z || p[2] === z),
            `${a}${op}${b}: ${JSON.stringify(written)}`,
          );
        }
    assert.deepEqual(recheckParts(6, "+", 9, "make-ten-remainder"), [
      [6, "+", 4, 10],
      [9, "-", 4, 5],
      [10, "+", 5, 15],
    ]);
    assert.deepEqual(recheckParts(8, "*", 4, "make-ten-remainder"), [
      [10, "-", 8, 2],
      [10, "*", 4, 40],
      [2, "*", 4, 8],
      [40, "-", 8, 32],
    ]);
  });

  it("in uncoupled documents the thread is lost at the configured rate per step, and never at rate 0", () => {
    const lost = (rate: number) =>
      share(
        solutions(pretrainDocumentsV2(4, 2000, { ...mix(0), driftAnyStepProb: rate })).filter(
          (d) => d.style !== "answer-only",
        ),
        (d) => d.drift !== undefined,
      );
    const [none, some, more] = [lost(0), lost(0.05), lost(0.15)];
    assert.equal(none, 0);
    // Problems have 2 to 4 steps: 1 - (1 - r)^steps lies between these bounds.
    assert.ok(some > 0.07 && some < 0.2, `${some}`);
    assert.ok(more > 2 * some, `${more} vs ${some}`);
  });

  it("a column re-check adds or takes the units first and then the tens, with no carry or borrow between columns", () => {
    let split = 0;
    for (let a = 0; a <= 99; a++)
      for (let b = 0; b <= 99; b++)
        for (const op of ["+", "-"] as const) {
          const v = applyOp(a, op, b);
          if (v < 0) continue;
          const parts = recheckParts(a, op, b, "columns");
          const carries = isHardStep(a, op, b, 12);
          // Only carries and borrows of numbers with tens are split; their last part is the value.
          if (!carries || (op === "+" && a < 10 && b < 10)) {
            assert.deepEqual(parts, [], `${a}${op}${b}`);
            continue;
          }
          split++;
          assert.ok(parts.length >= 1 && parts.length <= 3, `${a}${op}${b}`);
          for (const [x, o, y, z] of parts)
            assert.equal(applyOp(x, o, y), z, `${a}${op}${b}: ${x}${o}${y}=${z}`);
          // The first part is the units column's fact: both units digits, the borrowed ten added.
          const [x0, o0, y0] = parts[0]!;
          assert.deepEqual([x0, o0, y0], op === "+" ? [a % 10, "+", b % 10] : [10 + (a % 10), "-", b % 10]);
          // Every later part joins tens to tens or to the units' result: a round operand, no carry.
          for (const [x, o, y] of parts.slice(1)) {
            assert.ok(x % 10 === 0 || y % 10 === 0, `${a}${op}${b}: ${x}${o}${y}`);
            assert.ok(!isHardStep(x, o, y, 12), `${a}${op}${b}: ${x}${o}${y}`);
          }
          assert.equal(parts.at(-1)![3], v, `${a}${op}${b}`);
        }
    assert.ok(split > 3000, `${split} steps split`);
    assert.deepEqual(recheckParts(27, "+", 8, "columns"), [
      [7, "+", 8, 15],
      [20, "+", 15, 35],
    ]);
    assert.deepEqual(recheckParts(52, "-", 17, "columns"), [
      [12, "-", 7, 5],
      [40, "-", 10, 30],
      [30, "+", 5, 35],
    ]);
    assert.deepEqual(recheckParts(23, "-", 17, "columns"), [[13, "-", 7, 6]]);
    // Products keep make-ten's split.
    assert.deepEqual(recheckParts(8, "*", 4, "columns"), recheckParts(8, "*", 4));
  });

  it("a corpus with column re-checks re-checks the units first, and the reader still finds the re-checked step", () => {
    const docs = pretrainDocumentsV2(3, 800, { ...DEFAULT_MIXTURE_V2, recheck: "columns" });
    let read = 0;
    let columns = 0;
    for (const d of docs) {
      const eqs = readSolution(d.text).equations;
      eqs.forEach((e, i) => {
        if (e.checks === undefined) return;
        read++;
        const step = eqs[e.checks]!;
        // A re-check restates the step it checks; a split one works through the units column first.
        assert.deepEqual([e.a, e.op, e.b], [step.a, step.op, step.b], d.text);
        const work = eqs.slice(e.checks + 1, i);
        if (step.op === "*" || !work.length) return;
        columns++;
        assert.deepEqual(
          [work[0]!.a, work[0]!.op],
          [step.op === "+" ? step.a % 10 : 10 + (step.a % 10), step.op],
          d.text,
        );
      });
    }
    assert.ok(read > 50 && columns > 10, `${read} re-checks read, ${columns} column re-checks`);
  });

  it("a corpus with written remainders re-checks through them, and the reader still finds the re-checked step", () => {
    const docs = pretrainDocumentsV2(3, 800, { ...DEFAULT_MIXTURE_V2, recheck: "make-ten-remainder" });
    let read = 0;
    let split = 0;
    for (const d of docs) {
      const eqs = readSolution(d.text).equations;
      eqs.forEach((e, i) => {
        if (e.checks === undefined) return;
        read++;
        const step = eqs[e.checks]!;
        // The working between the re-checked step and its restatement: for a split carry,
        // make-ten, then the operand's remainder written out, then the rest.
        const work = eqs.slice(e.checks + 1, i);
        if (step.op !== "+" || !work.length) return;
        split++;
        const c = work[0]!.b;
        assert.deepEqual(
          [work[1]!.a, work[1]!.op, work[1]!.b, work[1]!.value],
          [step.b, "-", c, step.b - c],
          d.text,
        );
      });
    }
    assert.ok(read > 50 && split > 10, `${read} re-checks read, ${split} split carries`);
  });

  it("cross-checks recompute the chain; they agree on most right answers and a disagreement throws the writer", () => {
    const docs = solutions(pretrainDocumentsV2(5, 1500, { ...mix(0), crossCheckProb: 1 }));
    const checked = docs.filter((d) => d.crossCheck);
    // Every worked solution with an answer has one (a check pushed below zero by a slip is dropped).
    const answered = docs.filter((d) => d.style !== "answer-only" && d.finalAnswer !== undefined);
    assert.ok(checked.length > 0.95 * answered.length, `${checked.length} of ${answered.length}`);
    for (const d of checked) {
      const text = body(d);
      const line = text.match(/Check: ([^.]*)\./)?.[1];
      assert.ok(line, text);
      // The check's steps are the problem's steps, operands taken from the check itself.
      const eqs = readSolution(line).equations;
      assert.equal(eqs.length, d.problem!.steps.length, text);
      d.problem!.steps.forEach((s, i) => {
        const a = s.aFrom !== undefined ? eqs[s.aFrom]!.value : s.a;
        const b = s.bFrom !== undefined ? eqs[s.bFrom]!.value : s.b;
        assert.deepEqual([eqs[i]!.a, eqs[i]!.op, eqs[i]!.b], [a, s.op, b], text);
      });
      // Read in the whole solution, a check of two or more steps is steps, not a reflection on
      // the last one (one of a single step is read as v1's "Check: 3*4=12" reflection would be).
      const read = readSolution(text).equations.slice(-eqs.length);
      if (eqs.length > 1)
        assert.ok(
          read.every((e) => !e.inReflection),
          text,
        );
      const after = text.slice(text.indexOf(line) + line.length);
      const agrees = d.crossCheck === "agrees";
      // Agreement: the answer is the check's value; disagreement is said, with both values.
      if (agrees) assert.ok(after.includes(`\\boxed{${eqs.at(-1)!.value}}`), text);
      else assert.match(after, new RegExp(`${eqs.at(-1)!.value}.*\\b\\d+\\b`), text);
    }
    const right = (xs: PretrainDocumentV2[]) => share(xs, (d) => d.correct === true);
    const agree = checked.filter((d) => d.crossCheck === "agrees");
    const disagree = checked.filter((d) => d.crossCheck === "disagrees");
    assert.ok(right(agree) > 0.95 && right(disagree) < 0.6, `${right(agree)} vs ${right(disagree)}`);
    // The thrown writer misspells: a word is misspelt when a corpus written without typos lacks it.
    const clean = pretrainDocumentsV2(5, 1500, {
      ...mix(0),
      crossCheckProb: 1,
      typoProb: { careful: 0, average: 0, sloppy: 0 },
      lostTypoProb: 0,
    });
    const words = (xs: PretrainDocumentV2[]) =>
      xs.flatMap(
        (d) =>
          body(d)
            .slice(body(d).indexOf("Check:"))
            .match(/\p{L}{3,}/gu) ?? [],
      );
    const known = new Set(words(clean));
    const misspelt = (xs: PretrainDocumentV2[]) => share(words(xs), (w) => !known.has(w));
    assert.ok(
      misspelt(disagree) > 0.2 && misspelt(agree) < 0.1,
      `${misspelt(disagree)} vs ${misspelt(agree)}`,
    );
  });

  it("a corpus without cross-checks is the corpus it was (the check's draws are skipped)", () => {
    const a = pretrainDocumentsV2(2, 200, mix(0));
    const b = pretrainDocumentsV2(2, 200, { ...mix(0), crossCheckProb: 0, crossCheckSlipProb: 0.5 });
    assert.deepEqual(
      a.map((d) => d.text),
      b.map((d) => d.text),
    );
    assert.ok(a.every((d) => !d.text.includes("Check:")));
  });

  it("hard steps are carries, borrows and products beyond the easy table", () => {
    assert.equal(isHardStep(7, "+", 5, 12), true);
    assert.equal(isHardStep(3, "+", 5, 12), false);
    assert.equal(isHardStep(12, "-", 5, 12), true);
    assert.equal(isHardStep(15, "-", 3, 12), false);
    assert.equal(isHardStep(3, "*", 5, 12), true);
    assert.equal(isHardStep(3, "*", 4, 12), false);
  });

  it("only reflection sentences open with W, H, A, L, O or B (the decoding-time block relies on it)", () => {
    const opener = /\b(?:wait|hmm|actually|check|verify|recheck|double-check|on second thought)\b/i;
    for (const d of solutions(docs1)) {
      if (d.drift === "other-problem") continue; // a drifted-into problem statement is a prompt
      for (const sentence of body(d).split(/(?<=\.) |\n/)) {
        const s = sentence.trim();
        if (/^[WHALOB]/.test(s)) assert.match(s, opener, `${s} in ${d.text}`);
      }
    }
  });

  it("readSolution reads its reflections: fixes and missed fixes add up to the wrong steps reflected on", () => {
    let fixes = 0;
    let docFixes = 0;
    for (const d of solutions(docs1)) {
      if (d.style === "answer-only" || d.drift === "other-problem") continue;
      const r = readSolution(body(d));
      fixes += r.fixes;
      docFixes += d.fixes;
      for (const e of r.equations) if (!e.inReflection) assert.ok(applyOp(e.a, e.op, e.b) >= 0);
    }
    assert.ok(docFixes > 50);
    assert.equal(fixes, docFixes);
  });
});
