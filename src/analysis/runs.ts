// Reading a training run's metrics.jsonl: step lines (rollout statistics, rewards, correlations),
// held-out evaluations (the `eval` object, also at step 0) and events (guard / NaN rollbacks).

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

export type StepLine = Record<string, unknown> & { step: number };

export interface RunEvent {
  step: number;
  event: string;
  to_step?: number;
  /** A guard rollback's two candidate targets: by validation accuracy, and label-free. */
  validation_target?: number | null;
  signals_target?: number | null;
}

export interface RunMetrics {
  /** Training steps (step >= 1, no event lines), in step order; the last line of a step wins. */
  steps: StepLine[];
  /** Held-out evaluations by step (step 0 = before training). */
  evals: { step: number; eval: Record<string, unknown> }[];
  events: RunEvent[];
}

/** Parse metrics.jsonl text. Bad lines are errors naming the file and line, except a torn final
 *  line (a killed process), which is dropped as the trainer itself does on resume. */
export function parseMetrics(text: string, source = "metrics.jsonl"): RunMetrics {
  const lines = text.split("\n");
  while (lines.length && !lines[lines.length - 1].trim()) lines.pop();
  const bySteps = new Map<number, StepLine>();
  const evals = new Map<number, Record<string, unknown>>();
  const events: RunEvent[] = [];
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch (e) {
      if (i === lines.length - 1) return; // torn last line
      throw new Error(`${source}:${i + 1}: not valid JSON (${(e as Error).message})`);
    }
    if (typeof obj !== "object" || obj === null || Array.isArray(obj))
      throw new Error(`${source}:${i + 1}: expected a JSON object`);
    const o = obj as Record<string, unknown>;
    if (typeof o.step !== "number" || !Number.isInteger(o.step) || o.step < 0)
      throw new Error(`${source}:${i + 1}: missing or invalid "step"`);
    if (typeof o.event === "string") {
      events.push({
        step: o.step,
        event: o.event,
        to_step: typeof o.to_step === "number" ? o.to_step : undefined,
        ...(o.validation_target !== undefined
          ? { validation_target: o.validation_target as number | null }
          : {}),
        ...(o.signals_target !== undefined ? { signals_target: o.signals_target as number | null } : {}),
      });
      return;
    }
    if (o.eval !== undefined) {
      if (typeof o.eval !== "object" || o.eval === null)
        throw new Error(`${source}:${i + 1}: "eval" must be an object`);
      evals.set(o.step, o.eval as Record<string, unknown>);
    }
    if (o.step > 0) bySteps.set(o.step, o as StepLine);
  });
  return {
    steps: [...bySteps.values()].sort((a, b) => a.step - b.step),
    evals: [...evals.entries()].sort((a, b) => a[0] - b[0]).map(([step, ev]) => ({ step, eval: ev })),
    events,
  };
}

export function readRun(dir: string): RunMetrics {
  const path = join(dir, "metrics.jsonl");
  if (!existsSync(path)) throw new Error(`${path}: no such file`);
  return parseMetrics(readFileSync(path, "utf8"), path);
}

/** The last training step logged (0 when none). */
export function lastStep(m: RunMetrics): number {
  return m.steps.length ? m.steps[m.steps.length - 1].step : 0;
}

/** A run is finished when its metrics reach the final step, or, for a run whose guard ends it
 *  (mode stop / rollback), when the guard fired: that is a deliberate end, not an interruption. */
export function isFinished(dir: string, totalSteps: number, opts: { guardEnds?: boolean } = {}): boolean {
  if (!existsSync(join(dir, "metrics.jsonl"))) return false;
  let m: RunMetrics;
  try {
    m = readRun(dir);
  } catch {
    return false;
  }
  return metricsFinished(m, totalSteps, opts);
}

/** isFinished on metrics already read. */
export function metricsFinished(
  m: RunMetrics,
  totalSteps: number,
  opts: { guardEnds?: boolean } = {},
): boolean {
  if (lastStep(m) >= totalSteps) return true;
  if (!opts.guardEnds) return false;
  const last = m.steps[m.steps.length - 1];
  return (
    m.events.some((e) => e.event === "guard-rollback") ||
    (typeof last?.guard === "string" && last.guard.startsWith("fired"))
  );
}
