// The work budget of one comparison. Equivalence is bounded by counted work, not by a clock, so
// a verdict never depends on how busy the machine is: the same pair of answers gets the same
// verdict on a quiet laptop and on a loaded server. Every loop that can repeat expensive work
// charges here (item comparisons and shape scans per character, parsing per character, exact
// arithmetic per machine word, numeric evaluation per tree node and sample point, factorial and
// binomial steps); the rest of the grader is linear in its size-capped input. The weights make one
// unit cost roughly 5-50 ns of CPU whatever the kind of work (docs/grading.md, Bounds).

/**
 * Units one comparison may spend by default. Every answer pair of the benchmark self-tests and
 * of the Math-Verify agreement set needs under 12,000 (170x less), the adversarial fuzz inputs
 * under 510,000, the largest case of the grading tests (40 polynomials in a set) about 1,000,000;
 * the whole budget is tens of ms of CPU.
 */
export const DEFAULT_WORK_BUDGET = 2_000_000;

/** Units per tree node evaluated at one sample point (mathjs dispatch is the costly step). */
export const NODE_EVAL_UNITS = 20;

/** Thrown by `spend` past the budget; the comparison then counts the answers as different. */
export class OutOfWork extends Error {}

// Grading is synchronous, so the comparison in progress has one module-level meter.
let used = 0;
let limit = Number.POSITIVE_INFINITY;

/** Charges `units` to the comparison in progress (no effect outside `metered`). */
export function spend(units: number): void {
  used += units;
  if (used > limit) throw new OutOfWork();
}

export interface Metered<T> {
  /** f's result, or undefined when the budget ran out. */
  value: T | undefined;
  /** Units spent (at most the budget plus the last charge). */
  used: number;
  exhausted: boolean;
}

/** Runs f with a budget of `budget` units; restores the outer meter afterwards. */
export function metered<T>(budget: number, f: () => T): Metered<T> {
  const [outerUsed, outerLimit] = [used, limit];
  used = 0;
  limit = budget;
  try {
    return { value: f(), used, exhausted: false };
  } catch (e) {
    if (e instanceof OutOfWork) return { value: undefined, used, exhausted: true };
    throw e;
  } finally {
    used = outerUsed;
    limit = outerLimit;
  }
}
