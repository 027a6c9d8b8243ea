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
