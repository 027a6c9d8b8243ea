// The pretraining corpus of organism v2: the same world as v1, written by writers who differ the
// way the authors of real pretraining text do, so that a model trained on it has *informative*
// confidence (issue 11).
//
// What v1 lacked, and what v2 adds (every rate a named field of MixtureV2):
// - Writers have a reliability (careful / average / sloppy) that scales their slip rate, and slips
//   concentrate on genuinely hard steps (carries, borrows, larger products).
// - Writers have a manner: careful ones write every equation the same way, sloppy ones space their
//   equations at random, misspell words and hedge ("I think", "um,"). In documents whose manner
//   tracks reliability, a model that has begun to write sloppily has a flatter next-token
//   distribution at every position *and* slips more at hard steps: low self-certainty and wrong
//   answers come together, as in real text. (A first draft coupled only fixed-wording hedges and
//   rambles to errors; those are easy to predict, so they *raised* the self-certainty of wrong
//   answers and the knob worked backwards: docs/organism.md.)
// - A writer who made an uncaught slip often loses the thread: rambles, never states an answer, or
//   drifts into another problem.
// - Reflection follows uncertain (hard) steps whatever their outcome, is worded many ways, and
//   recomputes the step in easier parts (make ten, split a factor), so that a model can fix by
//   reflecting a step it got wrong, instead of copying what it wrote.
// - Optionally (crossCheckProb), a solution recomputes its chain before stating the answer; when
//   the two disagree the writer is thrown and states either. Unlike a slip, a disagreement is text
//   the model can read (two numbers side by side) without recomputing the step it got wrong.
// The knob `informativeness` (κ) is the share of documents whose manner and drift track
// reliability; in the other documents the manner is drawn independently of reliability and the
// same amount of drift falls on random steps. κ moves how much the text says about correctness
// while keeping the corpus's surface statistics the same (docs/organism.md measures both).
// Nothing here is read at sampling time.

import type { Rng } from "../engine/random.ts";
import {
  BASE_EOS,
  boxed,
  corpusDocuments,
  expr,
  formatPrompt,
  type PretrainDocument,
  perturb,
  type SolutionStyle,
  VERBOSE_END,
  VERBOSE_NEXT,
} from "./corpus.ts";
import { applyOp, drawProblem, hasCarry, type Op, type Problem } from "./world.ts";

export type Reliability = "careful" | "average" | "sloppy";
export type DriftKind = "ramble" | "no-answer" | "other-problem";

export interface MixtureV2 {
  /** κ in [0, 1]: the share of documents in which hedging and drift track the writer's errors. */
  informativeness: number;
  fillerDocProb: number;
  styleWeights: Readonly<Record<SolutionStyle, number>>;
  reliabilityWeights: Readonly<Record<Reliability, number>>;
  /** Multiplies the slip rates, per reliability. */
  slipScale: Readonly<Record<Reliability, number>>;
  /** Slip rate of an easy step / a hard step (carry, borrow, product above `hardProduct`). */
  easySlipProb: number;
  hardSlipProb: number;
  hardProduct: number;
  /** Probability of a reflection after a hard / an easy step, whatever the step's outcome. */
  reflectHardProb: number;
  reflectEasyProb: number;
  /** Probability that a reflection after a wrong step fixes it (else it wrongly confirms it). */
  reflectFixProb: number;
  /** How a re-check recomputes a hard step (recheckParts). */
  recheck: RecheckMethod;
  /** Probability that a worked solution with an answer cross-checks it before stating it: the
   *  whole chain recomputed from the problem's numbers ("Check: 8-2=6, 6+5=11, 11-4=7."). */
  crossCheckProb: number;
  /** Slip rate of a cross-check's hard steps (a careful second pass; easy steps a fifth of it). */
  crossCheckSlipProb: number;
  /** When the cross-check disagrees, the writer is thrown (writes the rest as one who has lost the
   *  thread) and states the check's value with this probability, else the first one. */
  crossCheckAdoptProb: number;
  /** Mean probability of a hedge before a step; per manner: times `hedgeWeight`. */
  hedgeProb: number;
  /** Weights with mean 1 under reliabilityWeights (the manner's distribution too). */
  hedgeWeight: Readonly<Record<Reliability, number>>;
  /** Per manner: probability that each gap of an equation (around the operator, the "=") is
   *  written the other way from the style's habit (spaced or not). */
  spacingNoise: Readonly<Record<Reliability, number>>;
  /** Per manner: probability that a word of connecting prose ("Then", "the answer is", hedges) has a typo. */
  typoProb: Readonly<Record<Reliability, number>>;
  /** Typo rate of whatever a writer writes after losing the thread (rambles, giving up, the rest). */
  lostTypoProb: number;
  /** Coupled documents: probability of losing the thread right after an uncaught slip. */
  driftAfterSlipProb: number;
  /** Uncoupled documents: probability of losing the thread after any step (about the same overall rate). */
  driftAnyStepProb: number;
  driftWeights: Readonly<Record<DriftKind, number>>;
  /** Probability that an answer-only document states a wrong answer (a guess). */
  answerOnlyWrongProb: number;
  maxDocChars: number;
}

export const DEFAULT_MIXTURE_V2: Readonly<MixtureV2> = {
  informativeness: 1,
  fillerDocProb: 0.08,
  styleWeights: { terse: 0.3, verbose: 0.35, stepwise: 0.27, "answer-only": 0.08 },
  reliabilityWeights: { careful: 0.35, average: 0.4, sloppy: 0.25 },
  slipScale: { careful: 0.15, average: 1, sloppy: 3 },
  easySlipProb: 0.04,
  hardSlipProb: 0.25,
  hardProduct: 12,
  reflectHardProb: 0.4,
  reflectEasyProb: 0.03,
  reflectFixProb: 0.9,
  recheck: "make-ten",
  crossCheckProb: 0,
  crossCheckSlipProb: 0.08,
  crossCheckAdoptProb: 0.5,
  hedgeProb: 0.2,
  // 0.35 * 0 + 0.4 * 0.75 + 0.25 * 2.8 = 1
  hedgeWeight: { careful: 0, average: 0.75, sloppy: 2.8 },
  spacingNoise: { careful: 0, average: 0.1, sloppy: 0.45 },
  typoProb: { careful: 0, average: 0.05, sloppy: 0.3 },
  lostTypoProb: 0.4,
  driftAfterSlipProb: 0.6,
  driftAnyStepProb: 0.05,
  driftWeights: { ramble: 0.4, "no-answer": 0.35, "other-problem": 0.25 },
  answerOnlyWrongProb: 0.6,
  // 384-token context, one token per character, minus BOS, EOS and slack.
  maxDocChars: 370,
};

/** A step is hard where learners slip most: a carry, a borrow, or a product beyond the easy table. */
export function isHardStep(a: number, op: Op, b: number, hardProduct: number): boolean {
  const result = applyOp(a, op, b);
  if (op === "*") return result > hardProduct;
  return hasCarry({ a, op, b, result });
}

// Wording. Reflection openers all begin with W, H, A, L, O or B, and no other sentence of a
// solution does (hence "Final answer:", not v1's "Answer:"; a problem statement the writer drifts
// into is a prompt, not a solution sentence), so blocking reflection at decoding time is one rule (src/tasks/reflection-block.ts).
export const OPENERS = [
  "Wait, let me check:",
  "Wait,",
  "Hmm,",
  "Hmm, wait,",
  "Actually,",
  "Let me check:",
  "Let me verify:",
  "Let me recheck this:",
  "Let me double-check:",
  "On second thought,",
  "But wait,",
  "Hold on, let me check:",
];
// {e} is the re-check's working, ending in the restated step with its (re)computed value.
const FIX_TAILS = [
  "{e}, not {w}.",
  "{e}. I wrote {w}, that was a mistake.",
  "{e}, so {w} was wrong.",
  "{e}, not {w}. I use that.",
  "{e}; {w} was a slip.",
];
const CONFIRM_TAILS = ["{e}. Yes.", "{e}. That is right.", "{e}. Good.", "{e}, correct.", "{e}. Fine."];
const HEDGES = ["I think ", "maybe ", "um, ", "uh, ", "probably ", "I guess "];
const HEDGE = new RegExp(HEDGES.map((h) => h.trim()).join("|"));

/** Whether a solution (a corpus document's or a model's imitation) is written in a sloppy manner:
 *  an equation spaced against its style's habit (terse "7+8=15", the others "7 + 8 = 15"), or a
 *  hedge. Read back by scripts/corpus-v2-stats.ts and scripts/confidence-anatomy.ts. */
export function writesSloppily(text: string, style: SolutionStyle | "other"): boolean {
  const spaced = style !== "terse";
  const equations = [...text.matchAll(/\d( ?)[-+*]( ?)\d+( ?)=( ?)\d/g)];
  return equations.some((m) => m.slice(1).some((gap) => (gap === " ") !== spaced)) || HEDGE.test(text);
}
export const RAMBLE = [
  "I am not sure about this.",
  "This is getting confusing.",
  "Numbers are tricky.",
  "I think something is off.",
  "Maybe I mixed something up.",
  "So many numbers here.",
  "I lost track of the numbers.",
  "Something seems strange.",
  "No idea if this is right.",
  "Too many steps for me.",
  "I keep going anyway.",
  "It is hard to say.",
];
export const GIVE_UP = [
  "I give up.",
  "I am not sure what the answer is.",
  "I cannot finish this.",
  "No answer then.",
];

const fill = (t: string, f: Record<string, string | number>) =>
  t.replace(/\{(\w)\}/g, (_, k: string) => String(f[k]));

export interface Writer {
  reliability: Reliability;
  /** Whether this document's manner and drift track its errors (probability κ). */
  coupled: boolean;
  /** How the writer writes: their reliability in coupled documents, an independent draw from the
   *  same distribution otherwise (so κ leaves the corpus's surface statistics unchanged). */
  manner: Reliability;
  hedgeProb: number;
  spacingNoise: number;
  typoProb: number;
}

export function drawWriter(rng: Rng, m: Readonly<MixtureV2>): Writer {
  const reliability = rng.weighted(m.reliabilityWeights);
  const coupled = rng.bool(m.informativeness);
  const manner = coupled ? reliability : rng.weighted(m.reliabilityWeights);
  return {
    reliability,
    coupled,
    manner,
    hedgeProb: Math.min(1, m.hedgeProb * m.hedgeWeight[manner]),
    spacingNoise: m.spacingNoise[manner],
    typoProb: m.typoProb[manner],
  };
}

/** What one document says, before wording: each item a step, a reflection, or the thread lost. */
export type Event =
  | { type: "step"; a: number; op: Op; b: number; written: number; correct: number; hedge: boolean }
  | { type: "reflect"; a: number; op: Op; b: number; written: number; correct: number; fixed: boolean }
  | { type: "drift"; kind: DriftKind };

export interface Plan {
  events: Event[];
  /** The boxed value, or null when the document ends without an answer. */
  final: number | null;
  slips: number;
  fixes: number;
  reflections: number;
}

/** A slip can push a later step below zero; negative numbers appear nowhere else in the world, so
 *  such plans are redrawn (as in v1), and after 100 tries the solution is written without slips. */
export function planSolution(problem: Problem, rng: Rng, m: Readonly<MixtureV2>, w: Writer): Plan {
  for (let attempt = 0; attempt < 100; attempt++) {
    const plan = drawPlan(problem, rng, m, w, true);
    if (plan) return plan;
  }
  return drawPlan(problem, rng, m, w, false)!;
}

function drawPlan(
  problem: Problem,
  rng: Rng,
  m: Readonly<MixtureV2>,
  w: Writer,
  slipsOn: boolean,
): Plan | null {
  const written: number[] = [];
  const events: Event[] = [];
  let slips = 0;
  let fixes = 0;
  let reflections = 0;
  for (const s of problem.steps) {
    const a = s.aFrom !== undefined ? written[s.aFrom]! : s.a;
    const b = s.bFrom !== undefined ? written[s.bFrom]! : s.b;
    const correct = applyOp(a, s.op, b);
    const hard = isHardStep(a, s.op, b, m.hardProduct);
    const p = Math.min(0.9, (hard ? m.hardSlipProb : m.easySlipProb) * m.slipScale[w.reliability]);
    if (correct < 0) return null;
    let value = slipsOn && rng.bool(p) ? perturb(rng, a, s.op, b).value : correct;
    if (value !== correct) slips++;
    events.push({ type: "step", a, op: s.op, b, written: value, correct, hedge: rng.bool(w.hedgeProb) });
    if (rng.bool(hard ? m.reflectHardProb : m.reflectEasyProb)) {
      reflections++;
      const fixed = value !== correct && rng.bool(m.reflectFixProb);
      events.push({ type: "reflect", a, op: s.op, b, written: value, correct, fixed });
      if (fixed) {
        fixes++;
        value = correct;
      }
    }
    written.push(value);
    const uncaught = value !== correct;
    const drift = w.coupled ? uncaught && rng.bool(m.driftAfterSlipProb) : rng.bool(m.driftAnyStepProb);
    if (drift) {
      const kind = rng.weighted(m.driftWeights);
      events.push({ type: "drift", kind });
      if (kind !== "ramble") return { events, final: null, slips, fixes, reflections };
    }
  }
  return { events, final: written[written.length - 1]!, slips, fixes, reflections };
}

/** An equation as this writer writes it: the style's spacing habit (spaced unless compact), each
 *  gap flipped with the writer's spacing noise. readSolution reads every variant. */
function equation(
  rng: Rng,
  w: Writer,
  compact: boolean,
  a: number,
  op: Op,
  b: number,
  value: number,
): string {
  const gap = () => ((rng.bool(w.spacingNoise) ? compact : !compact) ? " " : "");
  return `${a}${gap()}${op}${gap()}${b}${gap()}=${gap()}${value}`;
}

/** One typo past the first letter (so that sentence openings, and with them the reflection
 *  block's rule, are kept): half the time a letter replaced by any other, else a letter dropped,
 *  doubled or swapped with the next. Replacements by any letter matter: they spread a sloppy
 *  writer's next-token distribution over the whole alphabet, which is what self-certainty (the
 *  divergence from uniform over the vocabulary) measures; a dropped or doubled letter only moves
 *  mass between two likely tokens and leaves it almost unchanged. */
function typo(rng: Rng, word: string): string {
  if (word.length < 3 || !/^\p{L}+$/u.test(word)) return word;
  const i = rng.int(1, word.length - 2);
  switch (rng.int(0, 5)) {
    case 0:
      return word.slice(0, i) + word.slice(i + 1);
    case 1:
      return word.slice(0, i + 1) + word.slice(i);
    case 2:
      return word.slice(0, i) + word[i + 1] + word[i] + word.slice(i + 2);
    default:
      return word.slice(0, i) + String.fromCharCode(97 + rng.int(0, 25)) + word.slice(i + 1);
  }
}

/** Connecting prose as this writer writes it: each word misspelled with the writer's typo rate. */
function prose(rng: Rng, w: Writer, text: string): string {
  return text.replace(/\p{L}+/gu, (word) => (rng.bool(w.typoProb) ? typo(rng, word) : word));
}

/** How a re-check recomputes a hard step. "make-ten": through a round number, the operand's split
 *  left implicit; "make-ten-remainder": the same with the split written out; "columns": units
 *  first, then the tens, so that no part carries or borrows into another column. */
export const RECHECK_METHODS = ["make-ten", "make-ten-remainder", "columns"] as const;
export type RecheckMethod = (typeof RECHECK_METHODS)[number];

type Part = [number, Op, number, number];

/** The easier computations a careful re-check of a hard step goes through, ending at the step's
 *  true value. Empty where no split helps (easy steps, 30 - 7, 4 * 4).
 *  - make-ten: to ten for a carry (27 + 8: 27 + 3 = 30, 30 + 5 = 35), down to a ten for a borrow
 *    (32 - 5: 32 - 2 = 30, 30 - 3 = 27), through ten times the smaller factor for a product
 *    (8 * 4: 10 * 4 = 40, 2 * 4 = 8, 40 - 8 = 32; 13 * 3: 10 * 3 = 30, 3 * 3 = 9, 30 + 9 = 39).
 *  - make-ten-remainder: the split of the operand written out too (27 + 8: 27 + 3 = 30,
 *    8 - 3 = 5, 30 + 5 = 35; 8 * 4: 10 - 8 = 2, 10 * 4 = 40, ...): left implicit, that remainder is
 *    a two-hop computation a small model gets wrong (it writes 6 + 4 = 10, 10 + 4 = 14 for 6 + 9).
 *  - columns: the units digits' fact, then the tens added back (27 + 8: 7 + 8 = 15, 20 + 15 = 35;
 *    52 - 17: 12 - 7 = 5, 40 - 10 = 30, 30 + 5 = 35). Every operand is a digit or a copy of the
 *    step's own with its units dropped, so the re-check copies rather than computes what the
 *    make-ten split leaves implicit. Products split as in make-ten. */
export function recheckParts(a: number, op: Op, b: number, method: RecheckMethod = "make-ten"): Part[] {
  if (method === "columns" && op !== "*") return columnParts(a, op, b);
  const parts = makeTenParts(a, op, b);
  if (method !== "make-ten-remainder" || !parts.length) return parts.map((p) => p.part);
  return parts.flatMap((p) => (p.remainder ? [p.remainder, p.part] : [p.part]));
}

/** make-ten's parts, each with the remainder that would be written before it. */
function makeTenParts(a: number, op: Op, b: number): Array<{ part: Part; remainder?: Part }> {
  if (op === "+") {
    const c = 10 - (a % 10);
    if (a % 10 === 0 || c >= b) return [];
    return [
      { part: [a, "+", c, a + c] },
      { part: [a + c, "+", b - c, a + b], remainder: [b, "-", c, b - c] },
    ];
  }
  if (op === "-") {
    const u = a % 10;
    if (u === 0 || u >= b % 10 || b <= u) return [];
    return [
      { part: [a, "-", u, a - u] },
      { part: [a - u, "-", b - u, a - b], remainder: [b, "-", u, b - u] },
    ];
  }
  const [big, small] = a >= b ? [a, b] : [b, a];
  if (small < 2 || big < 6 || big === 10) return [];
  if (big > 10)
    return [
      { part: [10, "*", small, 10 * small], remainder: [big, "-", 10, big - 10] },
      { part: [big - 10, "*", small, (big - 10) * small] },
      { part: [10 * small, "+", (big - 10) * small, a * b] },
    ];
  return [
    { part: [10, "*", small, 10 * small], remainder: [10, "-", big, 10 - big] },
    { part: [10 - big, "*", small, (10 - big) * small] },
    { part: [10 * small, "-", (10 - big) * small, a * b] },
  ];
}

/** Column parts of a carry or a borrow (recheckParts, "columns"); empty for a step without one or
 *  for two single digits (their fact is the step itself). */
function columnParts(a: number, op: "+" | "-", b: number): Part[] {
  const [ua, ub] = [a % 10, b % 10];
  const [ta, tb] = [a - ua, b - ub];
  if (op === "+") {
    if (ua + ub < 10 || ta + tb === 0) return [];
    const units: Part = [ua, "+", ub, ua + ub];
    if (ta === 0 || tb === 0) return [units, [ta + tb, "+", ua + ub, a + b]];
    return [units, [ta, "+", tb, ta + tb], [ta + tb, "+", ua + ub, a + b]];
  }
  if (ua >= ub || a < b) return [];
  const units: Part = [10 + ua, "-", ub, 10 + ua - ub];
  const tens = ta - 10 - tb;
  if (tens === 0) return [units];
  if (tb === 0) return [units, [tens, "+", units[3], a - b]];
  return [units, [ta - 10, "-", tb, tens], [tens, "+", units[3], a - b]];
}

function renderReflection(
  rng: Rng,
  w: Writer,
  e: Extract<Event, { type: "reflect" }>,
  compact: boolean,
  method: RecheckMethod,
): string {
  const eq = (x: number, op: Op, y: number, v: number) => equation(rng, w, compact, x, op, y, v);
  // A re-check that misses the slip did not really recompute: it restates what was written.
  const parts = e.written !== e.correct && !e.fixed ? [] : recheckParts(e.a, e.op, e.b, method);
  const restated = eq(e.a, e.op, e.b, e.fixed ? e.correct : e.written);
  const work = parts.length
    ? `${parts.map(([x, op, y, v]) => eq(x, op, y, v)).join(", ")}, so ${restated}`
    : restated;
  const tail = rng.choice(e.fixed ? FIX_TAILS : CONFIRM_TAILS);
  return `${rng.choice(OPENERS)} ${fill(tail, { e: work, w: e.written })}`;
}

function renderStep(
  e: Extract<Event, { type: "step" }>,
  style: Exclude<SolutionStyle, "answer-only">,
  stepNo: number,
  rng: Rng,
  w: Writer,
): string {
  const eq = `${equation(rng, w, style === "terse", e.a, e.op, e.b, e.written)}.`;
  const hedge = e.hedge ? prose(rng, w, rng.choice(HEDGES)) : "";
  if (style === "terse") return hedge + eq;
  if (style === "stepwise") return `Step ${stepNo}: ${hedge}${eq}`;
  const lead = stepNo === 1 ? "First, " : prose(rng, w, rng.choice(VERBOSE_NEXT));
  return `${lead}${hedge}${eq}`;
}

function ramble(rng: Rng, n: number): string[] {
  return Array.from({ length: n }, () => rng.choice(RAMBLE));
}

/** A different training problem, written out tersely, when a writer drifts into another problem. */
function otherProblem(rng: Rng, id: string): string {
  const p = drawProblem(rng.fork("other"), "train", `${id}-other`);
  const steps = p.steps.map((s) => `${expr(s.a, s.op, s.b, true)}=${s.result}.`).join(" ");
  return `Problem: ${p.prompt}\nSolution: ${steps} ${boxed(p.answer)}`;
}

/** A cross-check: the chain recomputed from the problem's own numbers, with the second pass's
 *  (small) slip rate, and whether it agrees with the answer the solution reached. */
interface CrossCheck {
  steps: Array<[number, Op, number, number]>;
  agrees: boolean;
  /** The answer the writer states after it. */
  stated: number;
}

function drawCrossCheck(
  problem: Problem,
  rng: Rng,
  m: Readonly<MixtureV2>,
  reached: number,
): CrossCheck | null {
  const steps: Array<[number, Op, number, number]> = [];
  for (const s of problem.steps) {
    const a = s.aFrom !== undefined ? steps[s.aFrom]![3] : s.a;
    const b = s.bFrom !== undefined ? steps[s.bFrom]![3] : s.b;
    const correct = applyOp(a, s.op, b);
    if (correct < 0) return null; // a slip earlier in the check pushed it below zero
    const p = isHardStep(a, s.op, b, m.hardProduct) ? m.crossCheckSlipProb : m.crossCheckSlipProb / 5;
    steps.push([a, s.op, b, rng.bool(p) ? perturb(rng, a, s.op, b).value : correct]);
  }
  const value = steps[steps.length - 1]![3];
  const agrees = value === reached;
  return { steps, agrees, stated: agrees || !rng.bool(m.crossCheckAdoptProb) ? reached : value };
}

// None opens with W, H, A, L, O or B: a cross-check is not a reflection on the last step.
const CHECK_AGREE = ["Same answer.", "It matches.", "That agrees.", "The same, good.", "Checks out."];
const CHECK_DISAGREE = ["That gives {c}, not {x}.", "I get {c} this time, not {x}.", "So {c}? I had {x}."];

function renderSolutionV2(
  plan: Plan,
  style: Exclude<SolutionStyle, "answer-only">,
  rng: Rng,
  writer: Writer,
  id: string,
  m: Readonly<MixtureV2>,
  check: CrossCheck | null,
): string {
  let w = writer;
  const parts: string[] = [];
  let stepNo = 0;
  for (const e of plan.events) {
    if (e.type === "step") parts.push(renderStep(e, style, ++stepNo, rng, w));
    else if (e.type === "reflect") parts.push(renderReflection(rng, w, e, style === "terse", m.recheck));
    else {
      // A writer who has lost the thread writes everything after it carelessly.
      w = { ...w, typoProb: Math.max(w.typoProb, m.lostTypoProb) };
      const lost = (lines: string[]) => lines.map((x) => prose(rng, w, x));
      if (e.kind === "ramble") parts.push(...lost(ramble(rng, rng.int(1, 2))));
      else if (e.kind === "no-answer")
        parts.push(...lost([...ramble(rng, rng.int(0, 1)), rng.choice(GIVE_UP)]));
      else parts.push(`\n${otherProblem(rng, id)}`);
    }
  }
  let final = plan.final;
  if (check && final !== null) {
    const eqs = check.steps.map(([a, op, b, v]) => equation(rng, w, style === "terse", a, op, b, v));
    parts.push(`Check: ${eqs.join(", ")}.`); // a label, never misspelt: analyses find it
    if (check.agrees) parts.push(prose(rng, w, rng.choice(CHECK_AGREE)));
    else {
      // Two answers and no way to tell which is right: the writer is thrown for the rest.
      w = { ...w, typoProb: Math.max(w.typoProb, m.lostTypoProb) };
      const said = fill(rng.choice(CHECK_DISAGREE), { c: check.steps.at(-1)![3], x: final });
      parts.push(...[said, ...ramble(rng, rng.int(1, 2))].map((x) => prose(rng, w, x)));
    }
    final = check.stated;
  }
  const end =
    final === null
      ? ""
      : style === "stepwise"
        ? `${prose(rng, w, "Final answer:")} ${boxed(final)}`
        : style === "terse"
          ? boxed(final)
          : prose(rng, w, rng.choice(VERBOSE_END)).replace("{x}", boxed(final));
  if (end) parts.push(end);
  return (
    (style === "stepwise" ? "\n" : " ") +
    parts.join(style === "stepwise" ? "\n" : " ").replaceAll(" \n", "\n")
  );
}

export interface PretrainDocumentV2 extends PretrainDocument {
  reliability?: Reliability;
  coupled?: boolean;
  reflections?: number;
  drift?: DriftKind;
  crossCheck?: "agrees" | "disagrees";
}

/** One v2 document for `problem`. */
export function solvedDocumentV2(
  problem: Problem,
  rng: Rng,
  m: Readonly<MixtureV2>,
  id: string,
): PretrainDocumentV2 {
  const style = rng.weighted(m.styleWeights);
  const w = drawWriter(rng, m);
  let body: string;
  let final: string | null;
  let mistakes = 0;
  let fixes = 0;
  let reflections = 0;
  let drift: DriftKind | undefined;
  let check: CrossCheck | null = null;
  if (style === "answer-only") {
    const guess = rng.bool(m.answerOnlyWrongProb);
    const last = problem.steps[problem.steps.length - 1]!;
    final = guess ? String(perturb(rng, last.a, last.op, last.b).value) : problem.answer;
    // A guess reads like one: in coupled documents wrong guesses are hedged and right answers are
    // not; elsewhere the same share of answers is hedged at random.
    const hedged = w.coupled ? guess : rng.bool(m.answerOnlyWrongProb);
    body = ` ${hedged ? rng.choice(HEDGES).trim().replace(/,$/, "") : "The answer is"} ${boxed(final)}.`;
  } else {
    const plan = planSolution(problem, rng, m, w);
    mistakes = plan.slips;
    fixes = plan.fixes;
    reflections = plan.reflections;
    drift = [...plan.events]
      .reverse()
      .find((e): e is Extract<Event, { type: "drift" }> => e.type === "drift")?.kind;
    // Drawn only when the corpus has cross-checks, so that without them documents are unchanged.
    if (plan.final !== null && m.crossCheckProb > 0 && rng.bool(m.crossCheckProb))
      check = drawCrossCheck(problem, rng, m, plan.final);
    final = plan.final === null ? null : String(check ? check.stated : plan.final);
    body = renderSolutionV2(plan, style, rng, w, id, m, check);
  }
  return {
    text: formatPrompt(problem, "base") + body + BASE_EOS,
    kind: "solution",
    problem,
    style,
    ...(final !== null ? { finalAnswer: final } : {}),
    correct: final === problem.answer && drift !== "other-problem",
    mistakes,
    fixes,
    confirms: reflections - fixes,
    reliability: w.reliability,
    coupled: w.coupled,
    reflections,
    ...(drift ? { drift } : {}),
    ...(check ? { crossCheck: check.agrees ? ("agrees" as const) : ("disagrees" as const) } : {}),
  };
}

/** `n` v2 pretraining documents, reproducible from `seed`; document i depends only on (seed, i). */
export function pretrainDocumentsV2(
  seed: number,
  n: number,
  mixture: Readonly<MixtureV2> = DEFAULT_MIXTURE_V2,
): PretrainDocumentV2[] {
  if (!(mixture.informativeness >= 0 && mixture.informativeness <= 1))
    throw new Error(`pretrainDocumentsV2: informativeness must be in [0, 1], got ${mixture.informativeness}`);
  return corpusDocuments(
    "pretrainDocumentsV2",
    `pretrain-v2/${seed}`,
    `pretrain-v2-${seed}`,
    n,
    mixture,
    (p, rng, id) => solvedDocumentV2(p, rng, mixture, id),
  );
}
