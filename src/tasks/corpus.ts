// Training corpora for the organism: a messy pretraining corpus (base model) and a clean SFT set
// (instruct model), plus the exact prompt prefixes used at evaluation and RL time.
//
// The base corpus gives the model *capabilities* - solving step by step, slipping on a step,
// re-checking a step and correcting it - at fixed rates. How often the trained model uses them is
// then up to training (and later RL); nothing here is consulted at sampling time.

import { Rng } from "../engine/random.ts";
import { SPECIAL_TOKENS } from "../model/tokenizer.ts";
import { applyOp, drawProblem, hasCarry, type Op, type Problem, type Step } from "./world.ts";

export type PromptKind = "base" | "instruct";
export type SolutionStyle = "terse" | "verbose" | "stepwise" | "answer-only";

/** Every probability of the base mixture, with defaults in DEFAULT_BASE_MIXTURE. */
export interface BaseMixture {
  /** Fraction of documents that are unrelated filler prose instead of a solved problem. */
  fillerDocProb: number;
  /** Relative weights of the solution styles among problem documents. */
  styleWeights: Readonly<Record<SolutionStyle, number>>;
  /** Probability that a written step result is wrong, for steps without a carry or borrow. */
  stepMistakeProb: number;
  /** Same, for + steps with a carry and - steps with a borrow (where learners slip most). */
  carryMistakeProb: number;
  /** Probability of a reflection passage right after a wrong step; it always corrects the step. */
  reflectAfterWrongProb: number;
  /** Probability of a reflection passage after a correct step; it confirms it (so reflection is no perfect tell). */
  reflectAfterRightProb: number;
  /** Probability that an answer-only solution states a wrong answer (a guess without reasoning). */
  answerOnlyWrongProb: number;
  /** Documents longer than this many characters (not counting the EOS) are redrawn, to fit the context. */
  maxDocChars: number;
}

/**
 * Defaults chosen so that about a third of problem documents end in a wrong answer and about a
 * quarter contain a reflection; reflections after wrong steps outnumber those after right steps in
 * rate (50% vs 8%), so re-checking is informative but not a perfect tell. Measured numbers:
 * test/tasks.corpus.test.ts and docs/organism.md.
 */
export const DEFAULT_BASE_MIXTURE: Readonly<BaseMixture> = {
  fillerDocProb: 0.1,
  styleWeights: { terse: 0.3, verbose: 0.3, stepwise: 0.25, "answer-only": 0.15 },
  stepMistakeProb: 0.16,
  carryMistakeProb: 0.4,
  reflectAfterWrongProb: 0.5,
  reflectAfterRightProb: 0.08,
  answerOnlyWrongProb: 0.5,
  // 256-token context, one token per character, minus BOS and EOS and a little slack.
  maxDocChars: 250,
};

/** Ends every pretraining document (and is the base model's stop token). */
export const BASE_EOS = SPECIAL_TOKENS.endOfText;
/** Ends every assistant turn (and is the instruct model's stop token). */
export const INSTRUCT_EOS = SPECIAL_TOKENS.end;

/** The text the model must stop at, per prompt kind. */
export function stopText(kind: PromptKind): string {
  return kind === "base" ? BASE_EOS : INSTRUCT_EOS;
}

/** Exactly the prefix the model completes at evaluation / RL time. */
export function formatPrompt(problem: Pick<Problem, "prompt">, kind: PromptKind): string {
  if (kind === "base") return `Problem: ${problem.prompt}\nSolution:`;
  return `${SPECIAL_TOKENS.user}\n${problem.prompt}\n${SPECIAL_TOKENS.assistant}\n`;
}

// ---------------------------------------------------------------------------------------------
// Solution traces: what was written at each step, with mistakes and reflections.

export type MistakeKind = "carry" | "off-by-one" | "off-by-ten" | "times-table";

export type TraceItem =
  | {
      type: "step";
      index: number;
      a: number;
      op: Op;
      b: number;
      written: number;
      correct: number;
      mistake?: MistakeKind;
    }
  | { type: "reflect"; index: number; a: number; op: Op; b: number; correct: number; wrong?: number };

export interface Trace {
  items: TraceItem[];
  /** The value boxed at the end (the last step's value after any correction). */
  final: number;
}

/** A plausible wrong result for `a op b` (never negative, never the correct value). */
export function perturb(rng: Rng, a: number, op: Op, b: number): { value: number; kind: MistakeKind } {
  const correct = applyOp(a, op, b);
  const carry = hasCarry({ a, op, b, result: correct });
  const weights: Record<MistakeKind, number> =
    op === "*"
      ? { "times-table": 0.6, "off-by-one": 0.3, "off-by-ten": 0.1, carry: 0 }
      : carry
        ? { carry: 0.6, "off-by-one": 0.3, "off-by-ten": 0.1, "times-table": 0 }
        : { "off-by-one": 0.7, "off-by-ten": 0.3, carry: 0, "times-table": 0 };
  for (let attempt = 0; attempt < 20; attempt++) {
    const kind = rng.weighted(weights);
    let value: number;
    switch (kind) {
      case "carry": // forgot the carry (+) or the borrow (-)
        value = op === "+" ? correct - 10 : correct + 10;
        break;
      case "times-table": // a neighbouring row or column of the table
        value = correct + rng.choice([-1, 1]) * rng.choice([a, b]);
        break;
      case "off-by-one":
        value = correct + rng.choice([-1, 1]);
        break;
      case "off-by-ten":
        value = correct + rng.choice([-10, 10]);
        break;
    }
    if (value >= 0 && value !== correct) return { value, kind };
  }
  return { value: correct + 1, kind: "off-by-one" };
}

/**
 * Writes the steps of `problem` in order. Later steps use the values actually written earlier, so an
 * uncorrected mistake propagates to the final answer; a reflection recomputes the step from the
 * operands as written and, if the result was wrong, continues from the corrected value.
 * A mistake that would drive a later step below zero is redrawn: negative numbers appear nowhere else
 * in the world, and a model should not have to learn them from wrong solutions alone.
 */
export function traceSolution(problem: Problem, rng: Rng, mixture: Readonly<BaseMixture> | null): Trace {
  for (let attempt = 0; attempt < 100; attempt++) {
    const trace = drawTrace(problem, rng, mixture);
    if (trace.items.every((it) => it.type === "reflect" || (it.written >= 0 && it.correct >= 0)))
      return trace;
  }
  return drawTrace(problem, rng, null);
}

function drawTrace(problem: Problem, rng: Rng, mixture: Readonly<BaseMixture> | null): Trace {
  const written: number[] = [];
  const items: TraceItem[] = [];
  problem.steps.forEach((s: Step, index) => {
    const a = s.aFrom !== undefined ? written[s.aFrom]! : s.a;
    const b = s.bFrom !== undefined ? written[s.bFrom]! : s.b;
    const correct = applyOp(a, s.op, b);
    let value = correct;
    let mistake: MistakeKind | undefined;
    if (mixture) {
      const p = hasCarry({ a, op: s.op, b, result: correct })
        ? mixture.carryMistakeProb
        : mixture.stepMistakeProb;
      if (rng.bool(p)) ({ value, kind: mistake } = perturb(rng, a, s.op, b));
    }
    items.push({
      type: "step",
      index,
      a,
      op: s.op,
      b,
      written: value,
      correct,
      ...(mistake ? { mistake } : {}),
    });
    if (mixture) {
      const wrong = value !== correct;
      if (rng.bool(wrong ? mixture.reflectAfterWrongProb : mixture.reflectAfterRightProb)) {
        items.push({ type: "reflect", index, a, op: s.op, b, correct, ...(wrong ? { wrong: value } : {}) });
        value = correct;
      }
    }
    written.push(value);
  });
  return { items, final: written[written.length - 1]! };
}

// ---------------------------------------------------------------------------------------------
// Rendering

// Reflection passages. Those that fix and those that confirm share openings ("Wait, let me check:
// e = c"), so whether a step was wrong shows only after the recomputed value is written: the model
// has to learn to compare, not to predict the verdict from the opening.
const FIX = [
  "Wait, let me check: {e} = {c}, not {w}.",
  "Hmm, {e} is {c}, not {w}. That was a mistake.",
  "Actually, {e} = {c}, not {w}.",
  "Let me double-check: {e} = {c}, not {w}. So I use {c} instead.",
  "On second thought, {e} = {c}, not {w}.",
  "But wait, let me verify: {e} = {c}, not {w}.",
  "Let me recheck: {e} = {c}, not {w}.",
];
const CONFIRM = [
  "Wait, let me check: {e} = {c}. Yes.",
  "Hmm, {e} is {c}. That is right.",
  "Actually, {e} = {c}. Good.",
  "Let me double-check: {e} = {c}. Correct.",
  "But wait, let me verify: {e} = {c}. Yes.",
  "Let me recheck: {e} = {c}. Yes.",
];
const TERSE_FIX = ["Wait, {e}={c}, not {w}.", "Hmm, {e}={c}. Mistake.", "Check: {e}={c}, not {w}."];
const TERSE_CONFIRM = ["Wait, {e}={c}. OK.", "Hmm, {e}={c}. OK.", "Check: {e}={c}. OK."];
export const VERBOSE_NEXT = ["Then ", "Next, ", "Then "];
export const VERBOSE_END = ["So the answer is {x}.", "The answer is {x}.", "Therefore the answer is {x}."];
const ANSWER_ONLY = ["{x}", "The answer is {x}."];

export const boxed = (x: number | string) => `\\boxed{${x}}`;

export function expr(a: number, op: Op, b: number, compact: boolean): string {
  return compact ? `${a}${op}${b}` : `${a} ${op} ${b}`;
}

function reflection(rng: Rng, item: Extract<TraceItem, { type: "reflect" }>, compact: boolean): string {
  const fixing = item.wrong !== undefined;
  const templates = compact ? (fixing ? TERSE_FIX : TERSE_CONFIRM) : fixing ? FIX : CONFIRM;
  return rng
    .choice(templates)
    .replaceAll("{e}", expr(item.a, item.op, item.b, compact))
    .replaceAll("{c}", String(item.correct))
    .replaceAll("{w}", String(item.wrong));
}

/** The solution text after "Solution:" (with its leading space or newline), without the EOS. */
export function renderSolution(trace: Trace, style: Exclude<SolutionStyle, "answer-only">, rng: Rng): string {
  const compact = style === "terse";
  const parts: string[] = [];
  let stepNo = 0;
  for (const item of trace.items) {
    if (item.type === "reflect") {
      parts.push(reflection(rng, item, compact));
      continue;
    }
    const e = expr(item.a, item.op, item.b, compact);
    if (style === "terse") parts.push(`${e}=${item.written}.`);
    else if (style === "stepwise") parts.push(`Step ${++stepNo}: ${e} = ${item.written}.`);
    else parts.push(`${stepNo++ === 0 ? "First, " : rng.choice(VERBOSE_NEXT)}${e} = ${item.written}.`);
  }
  if (style === "terse") return ` ${parts.join(" ")} ${boxed(trace.final)}`;
  if (style === "stepwise") return `\n${parts.join("\n")}\nAnswer: ${boxed(trace.final)}`;
  return ` ${parts.join(" ")} ${rng.choice(VERBOSE_END).replace("{x}", boxed(trace.final))}`;
}

/** Which corpus style a solution (or a model's imitation of one) is written in, from how it opens;
 *  "other" when it opens like none of them (e.g. filler prose). The instruct model's clean style
 *  reads as verbose. */
export function solutionStyle(body: string): SolutionStyle | "other" {
  const t = body.trimStart();
  if (/^Step 1:/.test(t)) return "stepwise";
  if (/^First, /.test(t)) return "verbose";
  if (/^\d+ ?[+\-*] ?\d+ ?=/.test(t)) return "terse";
  if (/^(The answer is )?\\boxed\{/.test(t)) return "answer-only";
  return "other";
}

/** The instruct model's one uniform style: verbose, always correct, no reflection. */
export function cleanSolution(problem: Problem): string {
  const parts = problem.steps.map(
    (s, i) => `${i === 0 ? "First, " : "Then "}${expr(s.a, s.op, s.b, false)} = ${s.result}.`,
  );
  return `${parts.join(" ")} So the answer is ${boxed(problem.answer)}.`;
}

// ---------------------------------------------------------------------------------------------
// Filler: unrelated prose, so the base model is a general text model that happens to know math.

const FILLER_SUBJECTS = [
  "The old dog",
  "A small boat",
  "The river",
  "My neighbor",
  "The library",
  "A tall tree",
  "The train",
  "Our teacher",
  "The market",
  "A gray cat",
  "The baker",
  "The wind",
];
const FILLER_PREDICATES = [
  "sleeps by the door",
  "drifts past the mill",
  "runs through the valley",
  "opens early in the morning",
  "stands near the school",
  "waits at the station",
  "sells fresh bread",
  "reads the paper after lunch",
  "watches the birds",
  "moves slowly in the rain",
  "is quiet on Sundays",
  "smells of pine and smoke",
];
const FILLER_CLAUSES = [
  "it rains in the evening",
  "the road is quiet",
  "nobody is home",
  "the lights stay on",
  "the wind is cold",
  "the shop is closed",
];
// Natural prose uses the generic connectives of the transitional list too ("but", "however", "instead"),
// so that they are not exclusively a marker of reflection.
const FILLER_JOINS = [", but ", ". However, ", ". Instead, ", ", and ", ". Then "];

function fillerSentence(rng: Rng): string {
  const [name] = rng.choice([["Ann"], ["Leo"], ["Mia"], ["Sam"], ["Omar"], ["Ivy"]]);
  const subject = rng.bool(0.2) ? name! : rng.choice(FILLER_SUBJECTS);
  let s = `${subject} ${rng.choice(FILLER_PREDICATES)}`;
  if (rng.bool(0.35)) s += rng.choice(FILLER_JOINS) + rng.choice(FILLER_CLAUSES);
  return `${s}.`;
}

export function fillerDocument(rng: Rng): string {
  const n = rng.int(2, 5);
  return Array.from({ length: n }, () => fillerSentence(rng)).join(" ");
}

// ---------------------------------------------------------------------------------------------
// Corpora

export interface PretrainDocument {
  /** The whole document, ending in BASE_EOS. */
  text: string;
  kind: "solution" | "filler";
  problem?: Problem;
  style?: SolutionStyle;
  /** The boxed answer as written. */
  finalAnswer?: string;
  /** Whether the boxed answer equals the problem's answer. */
  correct?: boolean;
  /** Steps written with a wrong result (corrected or not). */
  mistakes: number;
  /** Reflections that corrected a wrong step / confirmed a right one. */
  fixes: number;
  confirms: number;
}

/** `n` base-model documents, reproducible from `seed`; document i depends only on (seed, i). */
export function pretrainDocuments(
  seed: number,
  n: number,
  mixture: Readonly<BaseMixture> = DEFAULT_BASE_MIXTURE,
): PretrainDocument[] {
  return corpusDocuments("pretrainDocuments", `pretrain/${seed}`, `pretrain-${seed}`, n, mixture, (p, rng) =>
    solvedDocument(p, rng, mixture),
  );
}

/**
 * The documents of a pretraining corpus (v1 and v2 alike): document i draws from its own stream
 * `${stream}/${i}`; a share `fillerDocProb` of them is filler prose, the rest solve a training
 * problem, redrawn until the document fits `maxDocChars`. `who` names the caller in errors.
 */
export function corpusDocuments<D extends PretrainDocument>(
  who: string,
  stream: string,
  idPrefix: string,
  n: number,
  o: { fillerDocProb: number; maxDocChars: number },
  solve: (problem: Problem, rng: Rng, id: string) => D,
): (D | PretrainDocument)[] {
  if (!Number.isInteger(n) || n < 0) throw new Error(`${who}: n must be a non-negative integer, got ${n}`);
  const docs: (D | PretrainDocument)[] = [];
  for (let i = 0; i < n; i++) {
    const rng = new Rng(`${stream}/${i}`);
    if (rng.bool(o.fillerDocProb)) {
      let text = fillerDocument(rng);
      while (text.length > o.maxDocChars) text = fillerDocument(rng);
      docs.push({ text: text + BASE_EOS, kind: "filler", mistakes: 0, fixes: 0, confirms: 0 });
      continue;
    }
    const id = `${idPrefix}-${i}`;
    let doc: D | undefined;
    for (let attempt = 0; attempt < 1000 && !doc; attempt++) {
      const d = solve(drawProblem(rng.fork(`problem/${attempt}`), "train", id), rng, id);
      if (d.text.length - BASE_EOS.length <= o.maxDocChars) doc = d;
    }
    if (!doc) throw new Error(`${who}: no document fits in maxDocChars=${o.maxDocChars}`);
    docs.push(doc);
  }
  return docs;
}

/** One base-format document for `problem`, with mistakes and reflections drawn from `mixture`. */
export function solvedDocument(problem: Problem, rng: Rng, mixture: Readonly<BaseMixture>): PretrainDocument {
  const style = rng.weighted(mixture.styleWeights);
  let body: string;
  let final: string;
  let mistakes = 0;
  let fixes = 0;
  let confirms = 0;
  if (style === "answer-only") {
    const guess = rng.bool(mixture.answerOnlyWrongProb);
    const last = problem.steps[problem.steps.length - 1]!;
    final = guess ? String(perturb(rng, last.a, last.op, last.b).value) : problem.answer;
    body = ` ${rng.choice(ANSWER_ONLY).replace("{x}", boxed(final))}`;
  } else {
    const trace = traceSolution(problem, rng, mixture);
    for (const item of trace.items) {
      if (item.type === "step" && item.written !== item.correct) mistakes++;
      if (item.type === "reflect") item.wrong !== undefined ? fixes++ : confirms++;
    }
    final = String(trace.final);
    body = renderSolution(trace, style, rng);
  }
  return {
    text: formatPrompt(problem, "base") + body + BASE_EOS,
    kind: "solution",
    problem,
    style,
    finalAnswer: final,
    correct: final === problem.answer,
    mistakes,
    fixes,
    confirms,
  };
}

export interface SftExample {
  /** formatPrompt(problem, "instruct"): the part not trained on. */
  prompt: string;
  /** The clean solution followed by INSTRUCT_EOS: the part trained on. */
  completion: string;
  text: string;
  problem: Problem;
}

/** `n` instruct examples (training split), reproducible from `seed`. */
export function sftExamples(seed: number, n: number): SftExample[] {
  if (!Number.isInteger(n) || n < 0)
    throw new Error(`sftExamples: n must be a non-negative integer, got ${n}`);
  const out: SftExample[] = [];
  for (let i = 0; i < n; i++) {
    const problem = drawProblem(new Rng(`sft/${seed}/${i}`), "train", `sft-${seed}-${i}`);
    const prompt = formatPrompt(problem, "instruct");
    const completion = cleanSolution(problem) + INSTRUCT_EOS;
    out.push({ prompt, completion, text: prompt + completion, problem });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Reading solutions back (for the model's own responses: how often it reflects, and whether
// reflecting fixes an error).

export interface WrittenEquation {
  a: number;
  op: Op;
  b: number;
  /** The value written after "=" (or "is"). */
  value: number;
  /** Inside a reflection passage: a reflection marker occurs earlier in the same sentence. */
  inReflection: boolean;
  /** For a reflection counted in the reading: the index (in `equations`) of the equation it re-checks. */
  checks?: number;
}

export interface SolutionReading {
  equations: WrittenEquation[];
  /** Equations outside reflections, and how many of them have a wrong value. */
  steps: number;
  wrongSteps: number;
  /** Reflection equations directly after a step with the same operands. */
  reflections: number;
  /** Reflections after a wrong step that write the correct value (the error is fixed). */
  fixes: number;
  /** Reflections after a wrong step that do not fix it. */
  missedFixes: number;
  /** Reflections after a right step that keep it right / that write a wrong value. */
  confirmations: number;
  breakages: number;
}

const EQUATION = /(\d+) ?([-+*]) ?(\d+) ?(?:=|is) ?(-?\d+)/g;
// Words that open a reflection passage; generic connectives ("but", "instead") do not.
const REFLECTION_OPENER =
  /(?<![\p{L}'-])(?:wait|hmm|actually|check|verify|recheck|double-check|on second thought|mistake)(?![\p{L}'-])/iu;

/** Where a v2 cross-check sits (corpus-v2.ts: "Check: 8-2=6, 6+5=11, 11-4=7."): a sentence that
 *  opens with "Check:" and recomputes two or more steps is the chain done again, not a reflection
 *  on the last step (v1's reflection "Check: 3*4=14, not 13." holds one equation). */
function crossCheckSpans(text: string): Array<[number, number]> {
  const spans: Array<[number, number]> = [];
  for (const m of text.matchAll(/(?:^|[.\n])(\s*Check:[^.\n]*)/g)) {
    const start = m.index + m[0].length - m[1]!.length;
    if ([...m[1]!.matchAll(EQUATION)].length >= 2) spans.push([start, start + m[1]!.length]);
  }
  return spans;
}

/**
 * Reads the arithmetic of a solution written in any of the corpus styles (or a model's imitation of
 * them): each "a op b = c", whether it sits in a reflection passage, and what the reflections did.
 */
export function readSolution(text: string): SolutionReading {
  const equations: WrittenEquation[] = [];
  const checks = crossCheckSpans(text);
  for (const m of text.matchAll(EQUATION)) {
    // A reflection runs to the end of its sentence: a re-check may work through easier parts
    // ("Wait, 7+3=10, 10+5=15, so 7+8=15") before it restates the step.
    const before = text.slice(0, m.index);
    const sentence = before.slice(Math.max(before.lastIndexOf("."), before.lastIndexOf("\n")) + 1);
    equations.push({
      a: Number(m[1]),
      op: m[2] as Op,
      b: Number(m[3]),
      value: Number(m[4]),
      inReflection: !checks.some(([a, b]) => m.index >= a && m.index < b) && REFLECTION_OPENER.test(sentence),
    });
  }
  const reading: SolutionReading = {
    equations,
    steps: 0,
    wrongSteps: 0,
    reflections: 0,
    fixes: 0,
    missedFixes: 0,
    confirmations: 0,
    breakages: 0,
  };
  let lastIndex = -1;
  equations.forEach((e, i) => {
    const right = applyOp(e.a, e.op, e.b) === e.value;
    if (!e.inReflection) {
      reading.steps++;
      if (!right) reading.wrongSteps++;
      lastIndex = i;
      return;
    }
    const last = equations[lastIndex];
    if (!last || last.a !== e.a || last.b !== e.b || last.op !== e.op) return;
    reading.reflections++;
    e.checks = lastIndex;
    const lastRight = applyOp(last.a, last.op, last.b) === last.value;
    if (lastRight) right ? reading.confirmations++ : reading.breakages++;
    else right ? reading.fixes++ : reading.missedFixes++;
    lastIndex = i;
  });
  return reading;
}
