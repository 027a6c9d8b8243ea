// The figures of an organism's model card (docs/organism.md; issue 11, items 2-4), computed from
// evaluation records (eval/evaluate.ts): how well confidence tells right from wrong samples of the
// same problem, where the model reflects and whether its reflections fix more than chance, what
// blocking reflection costs, and how often samples fail in the ways sharpening can remove.
// scripts/organism-card.ts runs the models and prints these.

import type { EvalSummary, ResponseRecord } from "../eval/evaluate.ts";
import { readSolution, type WrittenEquation } from "../tasks/corpus.ts";
import { DEFAULT_MIXTURE_V2, GIVE_UP, isHardStep, RAMBLE } from "../tasks/corpus-v2.ts";
import { applyOp } from "../tasks/world.ts";
import {
  type BootstrapOptions,
  type Interval,
  pairedBootstrap,
  type UnitInterval,
  unitBootstrap,
  withinGroupAuroc,
} from "./statistics.ts";

/** What the card reads of one sampled response. */
export type CardSample = Pick<
  ResponseRecord,
  "text" | "correct" | "stopped" | "meanSelfCertainty" | "meanEntropy" | "meanLogp"
>;

/** What the card reads of one problem's evaluation (a ProblemRecord is one). */
export interface CardProblem {
  id: string;
  greedy: { correct: boolean };
  samples: readonly CardSample[];
}

// ---------------------------------------------------------------------------------------------
// Informative confidence (item 2)

/** The confidence scores whose within-group AUROC the card reports; higher = more confident. */
export const CONFIDENCE_SCORES = {
  /** Mean over the response's tokens of KL(U || p_t). */
  self_certainty: (s: CardSample) => s.meanSelfCertainty,
  /** Minus the mean over the response's tokens of the entropy of p_t. */
  neg_token_entropy: (s: CardSample) => -s.meanEntropy,
  /** Trajectory log-prob normalised by length: (1/T) Σ_t log p_t(y_t) over the T generated tokens,
   *  the end-of-text token included when the model drew it (at temperature 1: the model's own
   *  probabilities). */
  mean_logp: (s: CardSample) => s.meanLogp,
} as const;
export type ConfidenceScore = keyof typeof CONFIDENCE_SCORES;

export interface AurocFigure extends UnitInterval {
  /** (right, wrong) pairs within the `units` groups that have both. */
  pairs: number;
}

/** Within-group AUROC of `score` against correctness, pooled over the problems whose samples are
 *  both right and wrong (the others carry no pairs), with a bootstrap interval over those problems.
 *  Null when no problem has both. */
export function confidenceAuroc(
  problems: readonly CardProblem[],
  score: (s: CardSample) => number,
  o: BootstrapOptions = {},
): AurocFigure | null {
  const groups = problems
    .map((p) => ({ scores: p.samples.map(score), correct: p.samples.map((s) => s.correct) }))
    .filter((g) => g.correct.includes(true) && g.correct.includes(false));
  const point = withinGroupAuroc(groups);
  if (!point) return null;
  const iv = unitBootstrap(groups, (gs) => withinGroupAuroc(gs)?.auroc ?? Number.NaN, o);
  return { ...iv, pairs: point.pairs };
}

// ---------------------------------------------------------------------------------------------
// Reflection that is needed (item 3)

export interface ReflectionFigures {
  samples: number;
  /** Share of samples with at least one re-check of a step (readSolution). */
  reflecting: number;
  accuracy_with_reflection: number;
  accuracy_without_reflection: number;
  /** Share of samples with a wrong step (outside reflections). */
  wrong_step_frac: number;
  /** Steps written the first time (outside reflections) that are hard / easy (isHardStep), and the
   *  share of them that a reflection directly re-checks. */
  hard_steps: number;
  hard_rechecked: number;
  easy_steps: number;
  easy_rechecked: number;
  /** Re-checks of a wrong step, and the share of them that write the correct value. */
  after_wrong: number;
  fix_rate: UnitInterval | null;
  /** What the model would get right anyway: over the re-checks of a wrong step, the mean of the
   *  model's own rate of writing a correct value the first time for a step of the same kind
   *  (operation × hard/easy), that rate taken over all first-time steps of these samples. */
  chance: number | null;
  fix_minus_chance: UnitInterval | null;
  /** How the re-checks went, read back: of the re-checks of a wrong step, the share with no
   *  working (the fact restated) and the fix rates with and without working; the share that
   *  restate the wrong value written; and of the re-checks of a right step, the share that write a
   *  wrong value instead (the corpus's never do). */
  anatomy: RecheckAnatomy;
}

export interface RecheckAnatomy {
  bare_after_wrong: number;
  fix_rate_bare: number;
  fix_rate_worked: number;
  copied_after_wrong: number;
  after_right: number;
  broken_after_right: number;
}

/** A step's kind for the chance rate: its operation and whether it is hard. */
function stepKind(e: WrittenEquation, hardProduct: number): string {
  return `${e.op} ${isHardStep(e.a, e.op, e.b, hardProduct) ? "hard" : "easy"}`;
}

const isRight = (e: WrittenEquation) => applyOp(e.a, e.op, e.b) === e.value;

/** One problem's first-time steps by kind, and its re-checks of wrong steps (bootstrap unit). */
interface ReflectionUnit {
  tallies: Map<string, { right: number; total: number }>;
  rechecks: { kind: string; fixed: boolean; bare: boolean; copied: boolean }[];
  /** Re-checks of a right step, and how many of them wrote a wrong value. */
  right: { n: number; broken: number };
}

/** The share of `xs` for which `f` holds; NaN for none. */
const shareOf = <T>(xs: readonly T[], f: (x: T) => boolean) =>
  xs.length ? xs.filter(f).length / xs.length : Number.NaN;

const fixRate = (units: readonly ReflectionUnit[]) =>
  shareOf(
    units.flatMap((u) => u.rechecks),
    (r) => r.fixed,
  );

function chanceRate(units: readonly ReflectionUnit[]): number {
  const pooled = new Map<string, { right: number; total: number }>();
  for (const u of units)
    for (const [kind, t] of u.tallies) {
      const p = pooled.get(kind) ?? { right: 0, total: 0 };
      p.right += t.right;
      p.total += t.total;
      pooled.set(kind, p);
    }
  let sum = 0;
  let n = 0;
  for (const u of units)
    for (const r of u.rechecks) {
      // The re-checked step's kind always has a first-time step in the same unit (same operands).
      const t = pooled.get(r.kind)!;
      sum += t.right / t.total;
      n++;
    }
  return n ? sum / n : Number.NaN;
}

/** Reflection read back from the samples' text (readSolution); steps are hard or easy by
 *  isHardStep on the operands the model wrote, with the v2 corpus's hardProduct by default. */
export function reflectionFigures(
  problems: readonly CardProblem[],
  o: BootstrapOptions & { hardProduct?: number } = {},
): ReflectionFigures {
  const hardProduct = o.hardProduct ?? DEFAULT_MIXTURE_V2.hardProduct;
  const units: ReflectionUnit[] = [];
  let samples = 0;
  let reflecting = 0;
  let rightReflecting = 0;
  let rightPlain = 0;
  let withWrongStep = 0;
  const steps = { hard: 0, easy: 0 };
  const rechecked = { hard: 0, easy: 0 };
  for (const p of problems) {
    const unit: ReflectionUnit = { tallies: new Map(), rechecks: [], right: { n: 0, broken: 0 } };
    for (const s of p.samples) {
      const r = readSolution(s.text);
      samples++;
      if (r.reflections > 0) {
        reflecting++;
        if (s.correct) rightReflecting++;
      } else if (s.correct) rightPlain++;
      if (r.wrongSteps > 0) withWrongStep++;
      const checked = new Set(r.equations.map((e) => e.checks));
      r.equations.forEach((e, i) => {
        if (e.inReflection) {
          const c = e.checks === undefined ? undefined : r.equations[e.checks];
          if (!c) return;
          if (isRight(c)) {
            unit.right.n++;
            if (!isRight(e)) unit.right.broken++;
          } else
            unit.rechecks.push({
              kind: stepKind(c, hardProduct),
              fixed: isRight(e),
              bare: i - e.checks! === 1,
              copied: e.value === c.value,
            });
          return;
        }
        const kind = stepKind(e, hardProduct);
        const t = unit.tallies.get(kind) ?? { right: 0, total: 0 };
        t.total++;
        if (isRight(e)) t.right++;
        unit.tallies.set(kind, t);
        const h = kind.endsWith("hard") ? "hard" : "easy";
        steps[h]++;
        if (checked.has(i)) rechecked[h]++;
      });
    }
    units.push(unit);
  }
  const afterWrong = units.reduce((n, u) => n + u.rechecks.length, 0);
  const share = (x: number, n: number) => (n ? x / n : Number.NaN);
  return {
    samples,
    reflecting: share(reflecting, samples),
    accuracy_with_reflection: share(rightReflecting, reflecting),
    accuracy_without_reflection: share(rightPlain, samples - reflecting),
    wrong_step_frac: share(withWrongStep, samples),
    hard_steps: steps.hard,
    hard_rechecked: share(rechecked.hard, steps.hard),
    easy_steps: steps.easy,
    easy_rechecked: share(rechecked.easy, steps.easy),
    after_wrong: afterWrong,
    fix_rate: afterWrong ? unitBootstrap(units, fixRate, o) : null,
    chance: afterWrong ? chanceRate(units) : null,
    fix_minus_chance: afterWrong ? unitBootstrap(units, (us) => fixRate(us) - chanceRate(us), o) : null,
    anatomy: recheckAnatomy(units),
  };
}

function recheckAnatomy(units: readonly ReflectionUnit[]): RecheckAnatomy {
  const wrong = units.flatMap((u) => u.rechecks);
  const fixed = (r: { fixed: boolean }) => r.fixed;
  const afterRight = units.reduce((n, u) => n + u.right.n, 0);
  const broken = units.reduce((n, u) => n + u.right.broken, 0);
  return {
    bare_after_wrong: shareOf(wrong, (r) => r.bare),
    fix_rate_bare: shareOf(
      wrong.filter((r) => r.bare),
      fixed,
    ),
    fix_rate_worked: shareOf(
      wrong.filter((r) => !r.bare),
      fixed,
    ),
    copied_after_wrong: shareOf(wrong, (r) => r.copied),
    after_right: afterRight,
    broken_after_right: afterRight ? broken / afterRight : Number.NaN,
  };
}

export interface BlockedFigures {
  /** Accuracy of the blocked decoding (greedy, and the mean over the k samples). */
  greedy_accuracy: number;
  mean_at_k: number;
  /** Blocked − unblocked, paired over problems (same problems, same seed). */
  greedy_diff: Interval;
  mean_at_k_diff: Interval;
  /** Share of blocked samples that still re-check a step (the block's leak). */
  reflecting: number;
}

const meanCorrect = (xs: readonly { correct: boolean }[]) => shareOf(xs, (x) => x.correct);

/** What blocking reflection does to accuracy: `blocked` holds the same problems, in the same
 *  order, decoded with the block. */
export function blockedFigures(
  unblocked: readonly CardProblem[],
  blocked: readonly CardProblem[],
  o: BootstrapOptions = {},
): BlockedFigures {
  if (unblocked.length !== blocked.length || unblocked.some((p, i) => p.id !== blocked[i].id))
    throw new Error(
      "blockedFigures: blocked and unblocked records must hold the same problems in the same order",
    );
  const diff = (f: (p: CardProblem) => number) => [unblocked.map((p, i) => f(blocked[i]) - f(p))];
  const samples = blocked.flatMap((p) => p.samples);
  return {
    greedy_accuracy: meanCorrect(blocked.map((p) => p.greedy)),
    mean_at_k: meanCorrect(samples),
    greedy_diff: pairedBootstrap(
      diff((p) => (p.greedy.correct ? 1 : 0)),
      o,
    ),
    mean_at_k_diff: pairedBootstrap(
      diff((p) => meanCorrect(p.samples)),
      o,
    ),
    reflecting: shareOf(samples, (s) => readSolution(s.text).reflections > 0),
  };
}

// ---------------------------------------------------------------------------------------------
// Failure modes that sharpening can remove (item 4)

export interface Share {
  share: number;
  count: number;
  n: number;
}

export interface FailureFigures {
  /** No "\boxed{" anywhere in the response. */
  no_boxed_answer: Share;
  /** The response drifts into another problem: "Problem:" inside it. */
  other_problem: Share;
  /** Any of the v2 corpus's ramble or give-up sentences, typos allowed (losesThread). */
  rambling: Share;
  /** Ran out of max new tokens before the end-of-text token. */
  truncated: Share;
}

const LOST_THREAD: readonly string[] = [...RAMBLE, ...GIVE_UP];

/** Edit distance (insertions, deletions, substitutions). */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++)
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}

/** Whether a sentence of `text` is one of the corpus's lost-thread sentences, typos allowed (a
 *  writer who lost the thread misspells about 40% of words: one edit per misspelled word). */
export function losesThread(text: string): boolean {
  return text
    .split(/(?<=[.!?])\s+|\n/)
    .map((x) => x.trim())
    .some((sentence) =>
      LOST_THREAD.some(
        (t) =>
          Math.abs(sentence.length - t.length) <= 3 &&
          editDistance(sentence, t) <= Math.floor(0.3 * t.length),
      ),
    );
}

export function failureModes(samples: readonly CardSample[]): FailureFigures {
  const share = (f: (s: CardSample) => boolean): Share => {
    const count = samples.filter(f).length;
    return { share: samples.length ? count / samples.length : Number.NaN, count, n: samples.length };
  };
  return {
    no_boxed_answer: share((s) => !s.text.includes("\\boxed{")),
    other_problem: share((s) => s.text.includes("Problem:")),
    rambling: share((s) => losesThread(s.text)),
    truncated: share((s) => !s.stopped),
  };
}

// ---------------------------------------------------------------------------------------------
// A row of the card

export interface CardMeta {
  model: string;
  split: string;
  k: number;
  max_new_tokens: number;
  /** Wall-clock time of the evaluation, and of the blocked one. */
  seconds: number;
  seconds_blocked?: number;
}

export interface CardRow extends CardMeta {
  n: number;
  greedy_accuracy: number;
  mean_at_k: number;
  mean_token_entropy: number;
  greedy_token_entropy: number;
  response_length: number;
  transitional_rate: number;
  // The v1 card's reflection columns (docs/organism-eval.json), as before.
  reflection_frac: number;
  reflections_after_wrong_step: number;
  reflection_fix_rate: number;
  accuracy_with_reflection: number;
  accuracy_without_reflection: number;
  wrong_step_frac: number;
  confidence: Record<ConfidenceScore, AurocFigure | null>;
  reflection: ReflectionFigures;
  blocked: BlockedFigures | null;
  failures: FailureFigures;
}

/** One model × split: the evaluation (`records` with k ≥ 1 samples each, and its summary), and
 *  the same problems decoded with reflection blocked, when measured. */
export function cardRow(
  meta: CardMeta,
  records: readonly CardProblem[],
  summary: EvalSummary,
  blocked: readonly CardProblem[] | null,
  o: BootstrapOptions = {},
): CardRow {
  if (!summary.sampled) throw new Error("cardRow: the evaluation has no samples (k = 0)");
  const reflection = reflectionFigures(records, o);
  const confidence = Object.fromEntries(
    Object.entries(CONFIDENCE_SCORES).map(([name, f]) => [name, confidenceAuroc(records, f, o)]),
  ) as Record<ConfidenceScore, AurocFigure | null>;
  return {
    ...meta,
    n: records.length,
    greedy_accuracy: summary.greedy_accuracy,
    mean_at_k: summary.mean_at_k!,
    mean_token_entropy: summary.sampled.mean_token_entropy,
    greedy_token_entropy: summary.greedy.mean_token_entropy,
    response_length: summary.sampled.mean_response_length,
    transitional_rate: summary.sampled.transitional_rate,
    reflection_frac: reflection.reflecting,
    reflections_after_wrong_step: reflection.after_wrong,
    reflection_fix_rate: reflection.fix_rate?.estimate ?? Number.NaN,
    accuracy_with_reflection: reflection.accuracy_with_reflection,
    accuracy_without_reflection: reflection.accuracy_without_reflection,
    wrong_step_frac: reflection.wrong_step_frac,
    confidence,
    reflection,
    blocked: blocked && blockedFigures(records, blocked, o),
    failures: failureModes(records.flatMap((p) => p.samples)),
  };
}

// ---------------------------------------------------------------------------------------------
// Markdown

const pct = (x: number | null | undefined) =>
  typeof x === "number" && Number.isFinite(x) ? `${(100 * x).toFixed(1)}%` : "-";
const fix = (x: number | null | undefined, d = 2) =>
  typeof x === "number" && Number.isFinite(x) ? x.toFixed(d) : "-";
const ci = (x: { estimate: number; lo: number; hi: number } | null, f: (v: number) => string) =>
  x ? `${f(x.estimate)} [${f(x.lo)}, ${f(x.hi)}]` : "-";
/** Signed percentage points. */
const pp = (x: number) => `${x >= 0 ? "+" : ""}${(100 * x).toFixed(1)}`;
const shareCell = (s: Share) => `${pct(s.share)} (${s.count}/${s.n})`;

/** A Markdown table of `rows`, one line each: model, split, then `cells`. */
function table(rows: readonly CardRow[], head: string[], cells: (r: CardRow) => string[]): string {
  const h = ["model", "split", ...head];
  return [
    `| ${h.join(" | ")} |`,
    `|${h.map(() => "---").join("|")}|`,
    ...rows.map((r) => `| ${[r.model, r.split, ...cells(r)].join(" | ")} |`),
  ].join("\n");
}

/** The card's tables: the v1 columns, then confidence, reflection, reflection blocked (rows that
 *  measured it) and failure modes. Intervals are 95% bootstrap intervals over problems. */
export function cardTables(rows: readonly CardRow[]): string {
  const k = rows[0]?.k ?? 0;
  const v1 = table(
    rows,
    [
      "n",
      "greedy acc",
      `mean@${k} (T=1)`,
      "token entropy (sampled / greedy)",
      "length",
      "transitional /100w",
      "reflecting",
      "reflection fixes a wrong step",
      "acc with / without reflection",
    ],
    (r) => [
      String(r.n),
      pct(r.greedy_accuracy),
      pct(r.mean_at_k),
      `${fix(r.mean_token_entropy, 3)} / ${fix(r.greedy_token_entropy, 3)}`,
      fix(r.response_length, 1),
      fix(r.transitional_rate),
      pct(r.reflection_frac),
      `${pct(r.reflection_fix_rate)} (${r.reflections_after_wrong_step})`,
      `${pct(r.accuracy_with_reflection)} / ${pct(r.accuracy_without_reflection)}`,
    ],
  );
  const confidence = table(
    rows,
    ["n × k", "AUROC self-certainty", "AUROC −token entropy", "AUROC mean log-p", "mixed problems (pairs)"],
    ({ n, k, confidence: c }) => {
      const any = c.self_certainty ?? c.neg_token_entropy ?? c.mean_logp;
      return [
        `${n} × ${k}`,
        ci(c.self_certainty, fix),
        ci(c.neg_token_entropy, fix),
        ci(c.mean_logp, fix),
        any ? `${any.units} (${any.pairs})` : "0",
      ];
    },
  );
  const reflection = table(
    rows,
    [
      "reflecting",
      "re-checked: hard / easy steps",
      "re-checks of a wrong step",
      "fix rate",
      "chance",
      "fix − chance (pp)",
    ],
    ({ reflection: x }) => [
      pct(x.reflecting),
      `${pct(x.hard_rechecked)} of ${x.hard_steps} / ${pct(x.easy_rechecked)} of ${x.easy_steps}`,
      String(x.after_wrong),
      ci(x.fix_rate, pct),
      pct(x.chance),
      ci(x.fix_minus_chance, pp),
    ],
  );
  const anatomy = table(
    rows,
    [
      "re-checks of a wrong step: bare",
      "fixed: bare / worked",
      "restating the wrong value",
      "re-checks of a right step",
      "turning it wrong",
    ],
    ({ reflection: { anatomy: a, after_wrong } }) => [
      `${pct(a.bare_after_wrong)} of ${after_wrong}`,
      `${pct(a.fix_rate_bare)} / ${pct(a.fix_rate_worked)}`,
      pct(a.copied_after_wrong),
      String(a.after_right),
      pct(a.broken_after_right),
    ],
  );
  const measured = rows.filter((r) => r.blocked);
  const blocked = table(
    measured,
    ["greedy acc: blocked (Δ pp)", `mean@${k}: blocked (Δ pp)`, "reflecting when blocked"],
    ({ blocked: b }) => [
      `${pct(b!.greedy_accuracy)} (${ci(b!.greedy_diff, pp)})`,
      `${pct(b!.mean_at_k)} (${ci(b!.mean_at_k_diff, pp)})`,
      pct(b!.reflecting),
    ],
  );
  const failures = table(
    rows,
    ["no boxed answer", "drifts into another problem", "rambling", "truncated"],
    ({ failures: f }) => [f.no_boxed_answer, f.other_problem, f.rambling, f.truncated].map(shareCell),
  );
  return `${[v1, confidence, reflection, anatomy, ...(measured.length ? [blocked] : []), failures].join("\n\n")}\n`;
}
