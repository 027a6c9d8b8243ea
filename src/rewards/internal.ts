// Internal-feedback rewards (spec "Rewards"): each is an average over the response tokens of a
// per-token quantity the sampling policy already computed. Sums run in float64.

import type { RewardOptions, SampledResponse } from "./types.ts";

function checkLength(r: SampledResponse, values: Float32Array, what: string): void {
  if (values.length !== r.responseIds.length)
    throw new Error(
      `rollout has ${values.length} ${what} values for ${r.responseIds.length} response tokens`,
    );
}

function total(values: Float32Array): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i];
  return s;
}

/** self-certainty: (1/T) Σ_t KL(U || p_t). An empty response (T = 0) gets 0. */
export function selfCertainty(r: SampledResponse): number {
  checkLength(r, r.selfCertainty, "self-certainty");
  const T = r.responseIds.length;
  return T === 0 ? 0 : total(r.selfCertainty) / T;
}

/** token-entropy: (1/T) Σ_t (−H_t). */
export function tokenEntropy(r: SampledResponse): number {
  checkLength(r, r.entropy, "entropy");
  const T = r.responseIds.length;
  return T === 0 ? 0 : -total(r.entropy) / T;
}

/** trajectory-entropy: (1/T) Σ_t log p_t(y_t); with `{ reduce: "sum" }` the unnormalised sum. */
export function trajectoryEntropy(r: SampledResponse, _ctx?: unknown, options: RewardOptions = {}): number {
  for (const k of Object.keys(options))
    if (k !== "reduce") throw new Error(`trajectory-entropy: unknown option "${k}" (valid: reduce)`);
  const reduce = options.reduce ?? "mean";
  if (reduce !== "mean" && reduce !== "sum")
    throw new Error(
      `trajectory-entropy: option reduce must be "mean" or "sum", got ${JSON.stringify(reduce)}`,
    );
  checkLength(r, r.logp, "log-prob");
  const T = r.responseIds.length;
  if (T === 0) return 0;
  const s = total(r.logp);
  return reduce === "sum" ? s : s / T;
}
