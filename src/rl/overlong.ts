// DAPO's two treatments of responses that run into the length limit (Yu et al. 2025): a linear
// penalty inside a soft buffer before the limit, and leaving truncated responses out of the loss
// (so that a cut-off chain of thought is neither rewarded nor punished for where it was cut).

/**
 * Soft overlong punishment: 0 up to L_max − L_buffer tokens, then falling linearly to −factor at
 * L_max: −factor · clamp((len − (L_max − L_buffer)) / L_buffer, 0, 1). Added to the reward.
 */
export function overlongPenalty(length: number, maxLen: number, buffer: number, factor = 1): number {
  if (!(buffer > 0 && buffer <= maxLen))
    throw new Error(`overlong penalty: the buffer must be in (0, max length ${maxLen}], got ${buffer}`);
  const over = (length - (maxLen - buffer)) / buffer;
  return over > 0 ? -factor * Math.min(1, over) : 0;
}

/** Loss weight of each response: 0 for a truncated one (DAPO's overlong filtering), else 1. */
export function truncationWeights(truncated: readonly boolean[]): Float64Array {
  return Float64Array.from(truncated, (t) => (t ? 0 : 1));
}
