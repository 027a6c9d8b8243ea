// The organism's synthetic math world: multi-step integer problems (arithmetic expressions and short
// word problems) whose answers are verifiable by recomputing their steps.
//
// Design constraints (see docs/organism.md): a ~1-3M parameter character-level transformer with a
// 256-token context must learn the arithmetic within a CPU budget of ~10M training tokens, so numbers
// stay small (single-digit operands, factors up to 5, every intermediate result in [0, 40]) and
// problems have 2-4 steps in distribution. A first organism with operands up to 20 and results up
// to 99 reached only ~15% correct steps after 4M tokens (docs/organism.md). The held-out OOD split
// has more steps and two-digit operands never seen as literals in training.

import { hashString, Rng } from "../engine/random.ts";

export type Op = "+" | "-" | "*";

/** One arithmetic step `a op b = result`. */
export interface Step {
  a: number;
  op: Op;
  b: number;
  result: number;
  /** Index of the earlier step whose result is `a`; absent when `a` is a number from the prompt. */
  aFrom?: number;
  /** Index of the earlier step whose result is `b`; absent when `b` is a number from the prompt. */
  bFrom?: number;
}

export type Split = "train" | "val-id" | "test-id" | "test-ood";
export const SPLITS: readonly Split[] = ["train", "val-id", "test-id", "test-ood"];

export type ProblemKind = "arithmetic" | "word";

/** Measured difficulty of one problem (not the knobs it was drawn with). */
export interface Difficulty {
  numSteps: number;
  /** Largest number written in the prompt (distractors included). */
  maxNumber: number;
  distractors: number;
}

export interface Problem {
  id: string;
  split: Split;
  kind: ProblemKind;
  /** The question text, e.g. "Compute 17 + 25 - 8." */
  prompt: string;
  /** The final answer as an integer string, e.g. "34". */
  answer: string;
  steps: Step[];
  difficulty: Difficulty;
}

/** Difficulty knobs of a split. */
export interface SplitConfig {
  /** Relative weight of each number of steps. */
  stepWeights: Readonly<Record<number, number>>;
  /** Largest number added, subtracted, or held at the start. */
  maxOperand: number;
  /** Largest factor in a multiplication (factors start at 2). */
  maxFactor: number;
  /** Every intermediate result stays in [0, maxResult]. */
  maxResult: number;
  /** Probability that a problem has distractor sentences at all (word problems only). */
  distractorProb: number;
  maxDistractors: number;
  /** Probability of an arithmetic expression rather than a word problem. */
  arithmeticProb: number;
  /** Probability that an arithmetic problem contains one multiplication. */
  multiplyProb: number;
  /** Prompts longer than this are redrawn, so prompt + solution fits the model's context. */
  maxPromptChars: number;
}

const IN_DISTRIBUTION: SplitConfig = {
  stepWeights: { 2: 0.45, 3: 0.4, 4: 0.15 },
  maxOperand: 9,
  maxFactor: 5,
  maxResult: 40,
  distractorProb: 0.3,
  maxDistractors: 1,
  arithmeticProb: 0.5,
  multiplyProb: 0.35,
  maxPromptChars: 120,
};

export const SPLIT_CONFIG: Readonly<Record<Split, SplitConfig>> = {
  train: IN_DISTRIBUTION,
  // Validation: the same distribution as test-id, on held-out computations disjoint from it. Every
  // choice made during or after training (checkpoint, peak step, guard rollback, learning rate)
  // reads this split; test-id only reports.
  "val-id": IN_DISTRIBUTION,
  "test-id": IN_DISTRIBUTION,
  // Harder: more steps and operands 10-19 (never seen as literals in training). Results stay
  // two-digit so failures come from length and composition, not unseen 3-digit numbers. Prompts
  // stay short enough that prompt + a clean solution fits a 256-token context, which also keeps
  // most word problems (long sentences) and distractors out of this split.
  "test-ood": {
    stepWeights: { 4: 0.5, 5: 0.5 },
    maxOperand: 19,
    maxFactor: 6,
    maxResult: 60,
    distractorProb: 0.3,
    maxDistractors: 1,
    arithmeticProb: 0.5,
    multiplyProb: 0.35,
    maxPromptChars: 125,
  },
};

/**
 * Problems whose computation signature hashes to 0 mod HELD_OUT_MODULUS are reserved for the test
 * splits; training never sees them in any surface form (same numbers in a word problem included).
 */
export const HELD_OUT_MODULUS = 10;

export function applyOp(a: number, op: Op, b: number): number {
  switch (op) {
    case "+":
      return a + b;
    case "-":
      return a - b;
    case "*":
      return a * b;
  }
}

/** The computation of a problem, independent of wording: what the split partition hashes. */
export function signature(steps: readonly Step[]): string {
  return steps
    .map((s) => {
      const a = s.aFrom !== undefined ? `#${s.aFrom}` : String(s.a);
      const b = s.bFrom !== undefined ? `#${s.bFrom}` : String(s.b);
      return `${a}${s.op}${b}`;
    })
    .join(",");
}

export function isHeldOut(steps: readonly Step[]): boolean {
  return hashString(signature(steps)) % HELD_OUT_MODULUS === 0;
}

/** Held-out computations are halved (by the hash's next digit) into validation and test, so that
 *  no computation of val-id appears in test-id in any wording. */
export function isValidation(steps: readonly Step[]): boolean {
  const h = hashString(signature(steps));
  return h % HELD_OUT_MODULUS === 0 && Math.floor(h / HELD_OUT_MODULUS) % 2 === 1;
}

/** Whether a computation may appear in `split`: train avoids every held-out one, val-id and
 *  test-id each take their half, test-ood (harder, other operands) takes any held-out one. */
export function inSplit(steps: readonly Step[], split: Split): boolean {
  if (split === "train") return !isHeldOut(steps);
  if (split === "test-ood") return isHeldOut(steps);
  return isHeldOut(steps) && isValidation(steps) === (split === "val-id");
}

/** Whether the step needs a carry (+) or a borrow (-): the steps where real learners slip most. */
export function hasCarry(step: Step): boolean {
  if (step.op === "+") return (step.a % 10) + (step.b % 10) >= 10;
  if (step.op === "-") return step.a % 10 < step.b % 10;
  return false;
}

/** Recomputes every step and checks the references between steps; returns the problems found (empty: consistent). */
export function verifyProblem(p: Problem): string[] {
  const errors: string[] = [];
  if (p.steps.length === 0) errors.push("no steps");
  p.steps.forEach((s, i) => {
    if (applyOp(s.a, s.op, s.b) !== s.result) errors.push(`step ${i}: ${s.a} ${s.op} ${s.b} != ${s.result}`);
    if (s.aFrom !== undefined && (s.aFrom >= i || p.steps[s.aFrom]!.result !== s.a)) {
      errors.push(`step ${i}: a does not match step ${s.aFrom}`);
    }
    if (s.bFrom !== undefined && (s.bFrom >= i || p.steps[s.bFrom]!.result !== s.b)) {
      errors.push(`step ${i}: b does not match step ${s.bFrom}`);
    }
  });
  const last = p.steps[p.steps.length - 1];
  if (last && String(last.result) !== p.answer)
    errors.push(`answer ${p.answer} != last result ${last.result}`);
  return errors;
}

// ---------------------------------------------------------------------------------------------
// Arithmetic expressions

const ARITHMETIC_TEMPLATES = ["Compute {e}.", "What is {e}?", "Calculate {e}.", "Evaluate {e}."];

interface Draft {
  kind: ProblemKind;
  prompt: string;
  steps: Step[];
  distractors: number;
  numbers: number[];
}

/** Adds a + or - step to a running value `cur` (from step `from`), or returns null if impossible. */
function addOrSubtract(rng: Rng, cfg: SplitConfig, cur: number, from: number | undefined): Step | null {
  const canAdd = cur + 1 <= cfg.maxResult;
  const canSub = cur >= 1;
  if (!canAdd && !canSub) return null;
  const op: Op = canAdd && canSub ? rng.choice(["+", "-"] as const) : canAdd ? "+" : "-";
  const hi = op === "+" ? Math.min(cfg.maxOperand, cfg.maxResult - cur) : Math.min(cfg.maxOperand, cur);
  const b = rng.int(1, hi);
  return { a: cur, op, b, result: applyOp(cur, op, b), ...(from !== undefined ? { aFrom: from } : {}) };
}

/** "17 + 25 - 8", "(3 + 4) * 5 - 6", "3 * 4 + 5": a left-to-right chain with at most one product. */
function drawChain(rng: Rng, cfg: SplitConfig, numSteps: number): Draft | null {
  const multiplyAt = rng.bool(cfg.multiplyProb) ? rng.int(0, numSteps - 1) : -1;
  const steps: Step[] = [];
  let cur: number;
  let expr: string;
  const numbers: number[] = [];
  if (multiplyAt === 0) {
    cur = rng.int(2, cfg.maxFactor);
  } else {
    cur = rng.int(1, cfg.maxOperand);
  }
  expr = String(cur);
  numbers.push(cur);
  for (let i = 0; i < numSteps; i++) {
    const from = i > 0 ? i - 1 : undefined;
    let step: Step | null;
    if (i === multiplyAt) {
      const hi = Math.min(cfg.maxFactor, Math.floor(cfg.maxResult / Math.max(cur, 1)));
      if (cur < 1 || hi < 2) return null;
      const b = rng.int(2, hi);
      step = { a: cur, op: "*", b, result: cur * b, ...(from !== undefined ? { aFrom: from } : {}) };
      // Only the prefix before a product needs parentheses: the chain has one product at most.
      expr = i === 0 ? `${expr} * ${b}` : `(${expr}) * ${b}`;
    } else {
      step = addOrSubtract(rng, cfg, cur, from);
      if (!step) return null;
      expr = `${expr} ${step.op} ${step.b}`;
    }
    numbers.push(step.b);
    steps.push(step);
    cur = step.result;
  }
  const prompt = rng.choice(ARITHMETIC_TEMPLATES).replace("{e}", expr);
  return { kind: "arithmetic", prompt, steps, distractors: 0, numbers };
}

/** "3 * 4 + 5 * 6 - 7": two products combined, then a chain; needs at least 3 steps. */
function drawProducts(rng: Rng, cfg: SplitConfig, numSteps: number): Draft | null {
  const [a, b, c, d] = [2, 2, 2, 2].map(() => rng.int(2, cfg.maxFactor)) as [number, number, number, number];
  const p1 = a * b;
  const p2 = c * d;
  const op: Op = p1 >= p2 && rng.bool(0.4) ? "-" : "+";
  const r = applyOp(p1, op, p2);
  if (r > cfg.maxResult) return null;
  const steps: Step[] = [
    { a, op: "*", b, result: p1 },
    { a: c, op: "*", b: d, result: p2 },
    { a: p1, op, b: p2, result: r, aFrom: 0, bFrom: 1 },
  ];
  let expr = `${a} * ${b} ${op} ${c} * ${d}`;
  const numbers = [a, b, c, d];
  let cur = r;
  for (let i = 3; i < numSteps; i++) {
    const step = addOrSubtract(rng, cfg, cur, i - 1);
    if (!step) return null;
    expr = `${expr} ${step.op} ${step.b}`;
    numbers.push(step.b);
    steps.push(step);
    cur = step.result;
  }
  const prompt = rng.choice(ARITHMETIC_TEMPLATES).replace("{e}", expr);
  return { kind: "arithmetic", prompt, steps, distractors: 0, numbers };
}

// ---------------------------------------------------------------------------------------------
// Word problems

const PEOPLE: readonly (readonly [string, "She" | "He"])[] = [
  ["Ann", "She"],
  ["Ben", "He"],
  ["Cal", "He"],
  ["Dee", "She"],
  ["Eva", "She"],
  ["Finn", "He"],
  ["Gus", "He"],
  ["Hana", "She"],
  ["Ivy", "She"],
  ["Jo", "She"],
  ["Kim", "She"],
  ["Leo", "He"],
  ["Mia", "She"],
  ["Ned", "He"],
  ["Omar", "He"],
  ["Pia", "She"],
  ["Raj", "He"],
  ["Sam", "He"],
  ["Tia", "She"],
  ["Uma", "She"],
];
const ITEMS = [
  "apples",
  "pens",
  "cards",
  "shells",
  "coins",
  "books",
  "eggs",
  "stamps",
  "marbles",
  "beads",
  "cookies",
  "stickers",
];
const CONTAINERS = ["bags", "boxes", "packs"];
const COLORS = ["red", "blue", "green", "small", "old", "new"];

// Templates: {N} name, {P} pronoun, {O} another person, {n}/{m} numbers, {k} count, {I} items, {C} containers.
const START = "{N} has {n} {I}.";
const START_GROUPS = ["{N} has {k} {C} with {m} {I} in each.", "{N} has {k} {C} of {m} {I}."];
const ADD = ["{P} buys {n} more.", "{P} finds {n} more.", "{P} gets {n} more from {O}."];
const SUB = ["{P} gives {n} to {O}.", "{P} loses {n}.", "{P} sells {n}.", "{P} gives {n} away."];
const ADD_SUB = ["{P} buys {n} more and gives {m} away.", "{P} finds {n} more and loses {m}."];
const ADD_GROUPS = ["{P} buys {k} {C} with {m} {I} in each.", "{P} gets {k} {C} of {m} more {I}."];
const SUB_GROUPS = ["{P} gives away {k} {C} of {m} {I}."];
const QUESTION = ["How many {I} does {N} have now?", "How many {I} does {N} have?"];
const DISTRACTORS = ["{O} has {n} {J}.", "{O} buys {n} {J}.", "The {I} are {c}.", "{O} is {n} years old."];

function fill(template: string, vars: Readonly<Record<string, string | number>>): string {
  return template.replace(/\{(\w)\}/g, (_, k: string) => {
    const v = vars[k];
    if (v === undefined) throw new Error(`template ${template}: no value for {${k}}`);
    return String(v);
  });
}

function drawWord(rng: Rng, cfg: SplitConfig, numSteps: number): Draft | null {
  const [name, pronoun] = rng.choice(PEOPLE);
  const others = PEOPLE.filter((p) => p[0] !== name);
  const items = rng.choice(ITEMS);
  const otherItems = rng.choice(ITEMS.filter((i) => i !== items));
  const base = { N: name, P: pronoun, I: items, J: otherItems };
  const other = () => rng.choice(others)[0];
  const container = () => rng.choice(CONTAINERS);
  const factor = () => rng.int(2, cfg.maxFactor);

  const steps: Step[] = [];
  const sentences: string[] = [];
  const numbers: number[] = [];
  let cur: number;
  let from: number | undefined;

  // Products: k groups of m, with both factors small and the product within range.
  const drawGroups = (): [number, number] | null => {
    const k = factor();
    const m = rng.int(2, Math.min(cfg.maxFactor, Math.floor(cfg.maxResult / k)));
    return k * m <= cfg.maxResult ? [k, m] : null;
  };

  if (numSteps >= 2 && rng.bool(0.25)) {
    const g = drawGroups();
    if (!g) return null;
    const [k, m] = g;
    steps.push({ a: k, op: "*", b: m, result: k * m });
    sentences.push(fill(rng.choice(START_GROUPS), { ...base, k, m, C: container() }));
    numbers.push(k, m);
    cur = k * m;
    from = 0;
  } else {
    cur = rng.int(2, cfg.maxOperand);
    numbers.push(cur);
    sentences.push(fill(START, { ...base, n: cur }));
    from = undefined;
  }

  const push = (s: Step) => {
    steps.push(s);
    cur = s.result;
    from = steps.length - 1;
  };
  const plusMinus = (op: Op, n: number): Step => ({
    a: cur,
    op,
    b: n,
    result: applyOp(cur, op, n),
    ...(from !== undefined ? { aFrom: from } : {}),
  });

  while (steps.length < numSteps) {
    const remaining = numSteps - steps.length;
    const options: Record<string, number> = { add: 1, sub: cur >= 1 ? 1 : 0 };
    if (remaining >= 2) Object.assign(options, { addSub: 0.6, addGroups: 0.4, subGroups: 0.2 });
    const kind = rng.weighted(options);
    if (kind === "add" || kind === "sub") {
      const op: Op = kind === "add" ? "+" : "-";
      const hi = op === "+" ? Math.min(cfg.maxOperand, cfg.maxResult - cur) : Math.min(cfg.maxOperand, cur);
      if (hi < 1) return null;
      const n = rng.int(1, hi);
      sentences.push(fill(rng.choice(op === "+" ? ADD : SUB), { ...base, n, O: other() }));
      numbers.push(n);
      push(plusMinus(op, n));
    } else if (kind === "addSub") {
      const hiAdd = Math.min(cfg.maxOperand, cfg.maxResult - cur);
      if (hiAdd < 1) return null;
      const n = rng.int(1, hiAdd);
      const m = rng.int(1, Math.min(cfg.maxOperand, cur + n));
      sentences.push(fill(rng.choice(ADD_SUB), { ...base, n, m }));
      numbers.push(n, m);
      push(plusMinus("+", n));
      push(plusMinus("-", m));
    } else {
      const g = drawGroups();
      if (!g) return null;
      const [k, m] = g;
      const op: Op = kind === "addGroups" ? "+" : "-";
      const r = applyOp(cur, op, k * m);
      if (r < 0 || r > cfg.maxResult) return null;
      sentences.push(
        fill(rng.choice(op === "+" ? ADD_GROUPS : SUB_GROUPS), { ...base, k, m, C: container() }),
      );
      numbers.push(k, m);
      const prev = from;
      steps.push({ a: k, op: "*", b: m, result: k * m });
      const prodIndex = steps.length - 1;
      steps.push({
        a: cur,
        op,
        b: k * m,
        result: r,
        ...(prev !== undefined ? { aFrom: prev } : {}),
        bFrom: prodIndex,
      });
      cur = r;
      from = steps.length - 1;
    }
  }

  let distractors = 0;
  if (rng.bool(cfg.distractorProb)) {
    distractors = rng.int(1, cfg.maxDistractors);
    for (let d = 0; d < distractors; d++) {
      const n = rng.int(2, cfg.maxOperand);
      const text = fill(rng.choice(DISTRACTORS), { ...base, n, O: other(), c: rng.choice(COLORS) });
      if (/\d/.test(text)) numbers.push(n);
      // Never before the opening sentence, which introduces the person and the items.
      const at = rng.int(1, sentences.length);
      sentences.splice(at, 0, text);
      // After a sentence about someone else, "She"/"He" would be ambiguous: name the person again.
      const next = sentences[at + 1];
      if (next?.startsWith(`${pronoun} `)) sentences[at + 1] = name + next.slice(pronoun.length);
    }
  }
  sentences.push(fill(rng.choice(QUESTION), base));
  return { kind: "word", prompt: sentences.join(" "), steps, distractors, numbers };
}

// ---------------------------------------------------------------------------------------------

const MAX_ATTEMPTS = 10_000;

/** Draws one problem of `split` from `rng` (rejection sampling on range, length and split membership). */
export function drawProblem(rng: Rng, split: Split, id: string): Problem {
  const cfg = SPLIT_CONFIG[split];
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const numSteps = Number(rng.weighted(cfg.stepWeights as Record<string, number>));
    let draft: Draft | null;
    if (rng.bool(cfg.arithmeticProb)) {
      draft =
        numSteps >= 3 && rng.bool(cfg.multiplyProb / 2)
          ? drawProducts(rng, cfg, numSteps)
          : drawChain(rng, cfg, numSteps);
    } else {
      draft = drawWord(rng, cfg, numSteps);
    }
    if (!draft || draft.prompt.length > cfg.maxPromptChars) continue;
    if (draft.steps.some((s) => s.result < 0 || s.result > cfg.maxResult)) continue;
    if (!inSplit(draft.steps, split)) continue;
    const last = draft.steps[draft.steps.length - 1]!;
    return {
      id,
      split,
      kind: draft.kind,
      prompt: draft.prompt,
      answer: String(last.result),
      steps: draft.steps,
      difficulty: {
        numSteps: draft.steps.length,
        maxNumber: Math.max(...draft.numbers),
        distractors: draft.distractors,
      },
    };
  }
  throw new Error(
    `drawProblem: no valid ${split} problem after ${MAX_ATTEMPTS} attempts (check SPLIT_CONFIG)`,
  );
}

/**
 * `n` problems of a split, reproducible from `seed`. Problem i depends only on (split, seed, i), so a
 * prefix of a larger set equals the smaller set.
 */
export function generateProblems(split: Split, seed: number, n: number): Problem[] {
  if (!Number.isInteger(n) || n < 0)
    throw new Error(`generateProblems: n must be a non-negative integer, got ${n}`);
  const out: Problem[] = [];
  for (let i = 0; i < n; i++) {
    const rng = new Rng(`${split}/${seed}/${i}`);
    out.push(drawProblem(rng, split, `${split}-${seed}-${i}`));
  }
  return out;
}

/**
 * The first `n` problems of a split's stream whose prompts are all different (a held-out set that
 * repeats a problem would count it twice in a paired analysis). Prefix-stable like
 * generateProblems; ids keep the stream index.
 */
export function distinctProblems(split: Split, seed: number, n: number): Problem[] {
  if (!Number.isInteger(n) || n < 0)
    throw new Error(`distinctProblems: n must be a non-negative integer, got ${n}`);
  const out: Problem[] = [];
  const seen = new Set<string>();
  for (let i = 0; out.length < n; i++) {
    if (i > 50 * n + 1000)
      throw new Error(`distinctProblems: ${split} has fewer than ${n} distinct problems`);
    const p = drawProblem(new Rng(`${split}/${seed}/${i}`), split, `${split}-${seed}-${i}`);
    if (seen.has(p.prompt)) continue;
    seen.add(p.prompt);
    out.push(p);
  }
  return out;
}
