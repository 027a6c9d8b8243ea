// Answer pairs crafted to need far more than the grader's default work budget: unbounded, each
// takes from a tenth of a second to seconds of exact or numeric work. Shared by the fuzz test
// (they run out of work within the budget) and the work-budget test (always at the same point).

/** The set \{f(0),…,f(n-1)\}. */
export function setOf(n: number, f: (k: number) => string): string {
  return `\\{${Array.from({ length: n }, (_, k) => f(k)).join(",")}\\}`;
}

// Each pairs items in reverse order, so the greedy matching of sets tries ~n^2/2 pairings.
export const PATHOLOGICAL = {
  /** Every pairing evaluates the 5,700-digit 2000! exactly (seconds unbounded). */
  factorials: [
    setOf(64, (k) => `\\frac{${k}}{2000!}`),
    setOf(64, (k) => `\\frac{${2 * (63 - k)}}{2\\cdot 2000!}`),
  ],
  binomials: [setOf(64, (k) => `\\binom{3000}{${1400 + k}}`), setOf(64, (k) => `\\binom{3000}{${1537 + k}}`)],
  /** 64 linear equations against the same doubled: equal, with about 1.25x the default budget. */
  equations: [setOf(64, (k) => `x+${k}y=1`), setOf(64, (k) => `2x+${2 * (63 - k)}y=2`)],
  /** Sets of sets, in reverse at both levels. */
  nestedSets: [
    setOf(60, (k) => `\\{x+${k},${k}y,\\sin(${k}x)\\}`),
    setOf(60, (k) => `\\{\\sin(${59 - k}x),y\\cdot ${59 - k},${59 - k}+x\\}`),
  ],
} satisfies Record<string, [string, string]>;
