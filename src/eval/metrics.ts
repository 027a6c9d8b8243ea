// Evaluation metrics over k samples per problem (spec "Metrics"): unbiased pass@k, majority
// vote and maj@k, mean@k. Plain float64 arithmetic.

function checkCount(name: string, v: number, lo: number, hi: number): void {
  if (!Number.isInteger(v) || v < lo || v > hi)
    throw new Error(`${name} must be an integer in [${lo}, ${hi}], got ${v}`);
}

/** Unbiased pass@k from n samples with c correct: 1 − C(n−c, k)/C(n, k), computed as the
 *  product 1 − Π_{i=n−c+1}^{n} (1 − k/i) so that no binomial coefficient overflows. */
export function passAtK(n: number, c: number, k: number): number {
  checkCount("pass@k: n", n, 1, Number.MAX_SAFE_INTEGER);
  checkCount("pass@k: c", c, 0, n);
  checkCount("pass@k: k", k, 1, n);
  if (n - c < k) return 1;
  let prod = 1;
  for (let i = n - c + 1; i <= n; i++) prod *= 1 - k / i;
  return 1 - prod;
}

/** The most frequent answer among the non-empty ones; ties go to the answer seen first
 *  (deterministic for a given sample order). null when no answer was extracted. */
export function majorityVote(answers: readonly (string | null | undefined)[]): string | null {
  const counts = new Map<string, number>();
  for (const a of answers) if (a) counts.set(a, (counts.get(a) ?? 0) + 1);
  let best: string | null = null;
  let bestCount = 0;
  for (const [a, n] of counts) // Map iterates in insertion (first-seen) order
    if (n > bestCount) {
      best = a;
      bestCount = n;
    }
  return best;
}

function firstK<T>(xs: readonly T[], k: number, what: string): readonly T[] {
  checkCount(`${what}: k`, k, 1, xs.length);
  return xs.slice(0, k);
}

/** maj@k over the first k samples: 1 if the majority answer is a correct one, else 0.
 *  `answers` are canonical answer strings (equal strings = equivalent answers). */
export function majAtK(
  answers: readonly (string | null | undefined)[],
  correct: readonly boolean[],
  k: number,
): number {
  if (answers.length !== correct.length)
    throw new Error(`maj@k: ${answers.length} answers, ${correct.length} grades`);
  const a = firstK(answers, k, "maj@k");
  const vote = majorityVote(a);
  if (vote === null) return 0;
  return correct[a.indexOf(vote)] ? 1 : 0;
}

/** mean@k: average correctness over the first k samples. */
export function meanAtK(correct: readonly boolean[], k: number): number {
  const c = firstK(correct, k, "mean@k");
  return c.filter(Boolean).length / k;
}
