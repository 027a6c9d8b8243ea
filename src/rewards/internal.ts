// Internal-feedback rewards (spec "Rewards"): each is an average over the response tokens of a
// per-token quantity the sampling policy already computed. Sums run in float64. Options
// `last_k` / `last_frac` restrict the average to the response's last tokens (RENT found the last
// third of the chain of thought the most useful part to reward).

import type { RewardOptions, SampledResponse } from "./types.ts";

function checkLength(r: SampledResponse, values: Float32Array, what: string): void {
  if (values.length !== r.responseIds.length)
    throw new Error(
      `rollout has ${values.length} ${what} values for ${r.responseIds.length} response tokens`,
    );
}

const WINDOW_OPTIONS = ["last_k", "last_frac"];

function checkOptions(name: string, options: RewardOptions, extra: readonly string[] = []): void {
  const valid = [...WINDOW_OPTIONS, ...extra];
  for (const k of Object.keys(options))
    if (!valid.includes(k)) throw new Error(`${name}: unknown option "${k}" (valid: ${valid.join(", ")})`);
  if (options.last_k !== undefined && options.last_frac !== undefined)
    throw new Error(`${name}: give last_k or last_frac, not both`);
}

/**
 * First token of the rewarded window of a T-token response: all of it by default; with
 * `last_k: k` the last min(k, T) tokens; with `last_frac: f` the last ⌈f·T⌉ tokens.
 */
export function windowStart(T: number, options: RewardOptions, name = "reward"): number {
  const { last_k: k, last_frac: f } = options;
  if (k !== undefined) {
    if (!(Number.isInteger(k) && (k as number) > 0))
      throw new Error(`${name}: last_k must be a positive integer, got ${JSON.stringify(k)}`);
    return Math.max(0, T - (k as number));
  }
  if (f !== undefined) {
    if (!(typeof f === "number" && f > 0 && f <= 1))
      throw new Error(`${name}: last_frac must be in (0, 1], got ${JSON.stringify(f)}`);
    return T - Math.ceil(f * T);
  }
  return 0;
}

/** Sum of values[start..T) and the window's length. */
function windowSum(values: Float32Array, options: RewardOptions, name: string): { sum: number; n: number } {
  const start = windowStart(values.length, options, name);
  let s = 0;
  for (let i = start; i < values.length; i++) s += values[i];
  return { sum: s, n: values.length - start };
}

/** self-certainty: (1/T) Σ_t KL(U || p_t). An empty response (T = 0) gets 0. */
export function selfCertainty(r: SampledResponse, _ctx?: unknown, options: RewardOptions = {}): number {
  checkOptions("self-certainty", options);
  checkLength(r, r.selfCertainty, "self-certainty");
  const { sum, n } = windowSum(r.selfCertainty, options, "self-certainty");
  return n === 0 ? 0 : sum / n;
}

/** token-entropy: (1/T) Σ_t (−H_t). */
export function tokenEntropy(r: SampledResponse, _ctx?: unknown, options: RewardOptions = {}): number {
  checkOptions("token-entropy", options);
  checkLength(r, r.entropy, "entropy");
  const { sum, n } = windowSum(r.entropy, options, "token-entropy");
  return n === 0 ? 0 : -sum / n;
}

/** trajectory-entropy: (1/T) Σ_t log p_t(y_t); with `{ reduce: "sum" }` the unnormalised sum. */
export function trajectoryEntropy(r: SampledResponse, _ctx?: unknown, options: RewardOptions = {}): number {
  checkOptions("trajectory-entropy", options, ["reduce"]);
  const reduce = options.reduce ?? "mean";
  if (reduce !== "mean" && reduce !== "sum")
    throw new Error(
      `trajectory-entropy: option reduce must be "mean" or "sum", got ${JSON.stringify(reduce)}`,
    );
  checkLength(r, r.logp, "log-prob");
  const { sum, n } = windowSum(r.logp, options, "trajectory-entropy");
  if (n === 0) return 0;
  return reduce === "sum" ? sum : sum / n;
}
