// The study's JSON summary (summary.json): what the report shows, computed from the runs and the
// theory checks. The HTML and Markdown renderers (report/) only format it.

import {
  type ConditionSummary,
  conditionKey,
  isPaperCondition,
  type LoadedRun,
  methodOf,
  type RunGroup,
  summarizeCondition,
} from "./conditions.ts";
import { type Spread, spread, stepCurve } from "./curves.ts";
import { computeFindings, type Finding, type GuardSummary, guardSummary } from "./findings.ts";
import { type MechanismRow, mechanismRows } from "./mechanism.ts";
import { type MethodAnswers, methodAnswers } from "./methods.ts";
import { conditionRecords, type GuardKeep, guardKeeps, studyVerdicts } from "./study-records.ts";
import type { TheoryResult } from "./theory.ts";
import type { Design } from "./verdicts.ts";

export interface SummaryInput {
  profile: string;
  runs: LoadedRun[];
  /** Theory checks per model (label -> result). */
  theory?: Record<string, TheoryResult>;
  /** Early window = the first `earlyFraction` of the steps. */
  earlyFraction?: number;
  /** Conditions left out, deviations, timings. */
  notes?: string[];
  /** The pre-registered design of the paired verdicts (early step, δ); without it, or without
   *  per-problem records, only the descriptive curve rules are computed. */
  design?: Omit<Design, "metric">;
}

export interface Summary {
  profile: string;
  conditions: ConditionSummary[];
  findings: Finding[];
  /** The same conditions and findings on sampled held-out accuracy (mean@k at temperature 1),
   *  when the runs evaluated samples. */
  sampled: { conditions: ConditionSummary[]; findings: Finding[] } | null;
  /** The verdicts as paired tests on per-problem records (docs/reproduce.md, "Measurement"):
   *  sampled accuracy (primary) and greedy accuracy; null for runs without records. */
  verdicts: { design: Omit<Design, "metric">; sampled: Finding[]; greedy: Finding[] } | null;
  /** The questions about the methods beyond the paper (Q1 random control, Q2 KL-Cov) and the
   *  validation choice of KL-Cov's k; null for runs without records. */
  methods: MethodAnswers | null;
  /** What each guarded run's rollback targets keep, with paired intervals. */
  guardKeeps: GuardKeep[];
  /** One per guarded run (each against the unguarded run of its reward). */
  guards: GuardSummary[];
  theory: Record<string, TheoryResult>;
  /** The per-step mechanism signals between validation evaluations (analysis/mechanism.ts). */
  mechanism: MechanismRow[];
  /** corr/* metrics over every step of every run of a condition: "group/reward" -> name -> spread. */
  correlations: Record<string, Record<string, Spread | null>>;
  runs: {
    id: string;
    group: RunGroup;
    reward: string;
    method?: string;
    candidate?: string;
    seed: number;
    alpha?: number;
    steps: number;
    lastStep: number;
  }[];
  notes: string[];
}

function groupConditions(runs: LoadedRun[]): Map<string, LoadedRun[]> {
  const m = new Map<string, LoadedRun[]>();
  for (const r of runs) {
    const k = conditionKey(r);
    const l = m.get(k);
    if (l) l.push(r);
    else m.set(k, [r]);
  }
  return m;
}

export { conditionKey };

/** Whether any of the runs' held-out evaluations scored samples (mean@k). */
export const evaluatedSamples = (runs: LoadedRun[]) =>
  runs.some((r) => r.metrics.evals.some((e) => typeof e.eval.mean_at_k === "number"));

/** The study's results: conditions, findings (greedy and sampled accuracy), guards, theory checks,
 *  correlations and runs. */
export function buildSummary(input: SummaryInput): Summary {
  const frac = input.earlyFraction ?? 0.5;
  const groups = groupConditions(input.runs);
  const conditions = [...groups.values()].map((rs) => summarizeCondition(rs, frac));
  const correlations: Summary["correlations"] = {};
  for (const [k, rs] of groups) {
    const names = new Set(
      rs.flatMap((r) => r.metrics.steps.flatMap((s) => Object.keys(s).filter((n) => n.startsWith("corr/")))),
    );
    correlations[k] = {};
    for (const n of names)
      correlations[k][n.slice(5)] = spread(rs.flatMap((r) => stepCurve(r.metrics, n).map((p) => p.value)));
  }
  const guards = input.runs
    .filter((r) => r.group === "guard")
    .flatMap((r) => {
      const plain = conditions.find(
        (c) => c.group === "base" && isPaperCondition(c) && c.reward === r.reward,
      );
      const g = guardSummary(r, plain?.final?.mean ?? null, plain?.margin ?? 0);
      return g ? [g] : [];
    });
  const sampledConditions = evaluatedSamples(input.runs)
    ? [...groups.values()].map((rs) => summarizeCondition(rs, frac, "mean_at_k"))
    : null;
  const records = input.design ? conditionRecords(input.runs) : [];
  const design = input.design;
  const verdicts =
    design && records.length
      ? {
          design,
          sampled: studyVerdicts(records, { ...design, metric: "sampled" }),
          greedy: studyVerdicts(records, { ...design, metric: "greedy" }),
        }
      : null;
  return {
    profile: input.profile,
    verdicts,
    methods: design && records.length ? methodAnswers(records, design) : null,
    guardKeeps:
      design && records.length ? guardKeeps(input.runs, records, { ...design, metric: "sampled" }) : [],
    conditions,
    findings: computeFindings(conditions),
    sampled: sampledConditions
      ? { conditions: sampledConditions, findings: computeFindings(sampledConditions) }
      : null,
    guards,
    theory: input.theory ?? {},
    correlations,
    mechanism: mechanismRows(input.runs),
    runs: input.runs.map((r) => ({
      id: r.id,
      group: r.group,
      reward: r.reward,
      ...methodOf(r),
      seed: r.seed,
      alpha: r.alpha,
      steps: r.steps,
      lastStep: r.metrics.steps.length ? r.metrics.steps[r.metrics.steps.length - 1].step : 0,
    })),
    notes: input.notes ?? [],
  };
}
