// The collapse guard (the paper's practical advice): watch the mean token entropy and the
// transitional-word rate of the rollouts; when either falls far below its starting level for
// `patience` steps in a row, the guard fires (the trainer then warns, stops or rolls back).

import type { TrainConfig } from "./config.ts";

export interface GuardState {
  /** Means over the first baseline_steps steps (a single step's rollouts are too noisy). */
  initialEntropy: number | null;
  initialTransitional: number | null;
  /** Sums over the baseline steps seen so far. */
  baseline: { n: number; entropy: number; transitional: number };
  strikes: number;
}

export function initialGuardState(): GuardState {
  return {
    initialEntropy: null,
    initialTransitional: null,
    baseline: { n: 0, entropy: 0, transitional: 0 },
    strikes: 0,
  };
}

/**
 * Advances the guard by one step's mean entropy H and transitional rate tr (mutating `state`);
 * returns what it saw when it fires, else null. Mode "off" never fires.
 */
export function guardStep(
  state: GuardState,
  cfg: TrainConfig["guard"],
  H: number,
  tr: number,
): string | null {
  if (cfg.mode === "off") return null;
  const b = state.baseline;
  if (state.initialEntropy === null || state.initialTransitional === null) {
    b.n++;
    b.entropy += H;
    b.transitional += tr;
    if (b.n >= cfg.baseline_steps) {
      state.initialEntropy = b.entropy / b.n;
      state.initialTransitional = b.transitional / b.n;
    }
  } else {
    const lowH = H < (1 - cfg.entropy_drop) * state.initialEntropy;
    const lowT =
      state.initialTransitional > 0 && tr < (1 - cfg.transitional_drop) * state.initialTransitional;
    state.strikes = lowH || lowT ? state.strikes + 1 : 0;
  }
  if (state.initialEntropy === null || state.initialTransitional === null || state.strikes < cfg.patience)
    return null;
  return `fired: entropy ${H.toFixed(3)} (start ${state.initialEntropy.toFixed(3)}), transitional ${tr.toFixed(2)} (start ${state.initialTransitional.toFixed(2)})`;
}
