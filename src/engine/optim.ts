// AdamW with decoupled weight decay, global-norm gradient clipping, and a warm-up + cosine
// learning-rate schedule. State is plain named tensors so checkpoints can save and restore it.

import type { Storage } from "./backend.ts";
import { Tensor } from "./tensor.ts";

export interface AdamWOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  /** Parameters whose name matches get no weight decay (norms and biases, by convention). */
  noDecay?: (name: string) => boolean;
}

export const defaultNoDecay = (name: string) => name.endsWith(".bias") || name.endsWith("norm.weight");

export class AdamW {
  step = 0;
  readonly m = new Map<string, Tensor>();
  readonly v = new Map<string, Tensor>();
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  private readonly noDecay: (name: string) => boolean;

  constructor(
    readonly params: Map<string, Tensor>,
    opts: AdamWOptions,
  ) {
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0.01;
    this.noDecay = opts.noDecay ?? defaultNoDecay;
    for (const [name, p] of params) {
      this.m.set(name, new Tensor(p.shape, { backend: p.backend, track: false }));
      this.v.set(name, new Tensor(p.shape, { backend: p.backend, track: false }));
    }
  }

  /** One update at learning rate lr; parameters without a gradient are skipped. */
  update(lr: number): void {
    this.step++;
    for (const [name, p] of this.params) {
      if (!p.grad) continue;
      const wd = this.noDecay(name) ? 0 : this.weightDecay;
      const hp = {
        lr,
        beta1: this.beta1,
        beta2: this.beta2,
        eps: this.eps,
        weightDecay: wd,
        step: this.step,
      };
      p.backend.adamw(p.storage, p.grad.storage, this.m.get(name)!.storage, this.v.get(name)!.storage, hp);
    }
  }

  /** Frees the moment estimates (m, v). */
  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose();
  }

  zeroGrad(): void {
    for (const p of this.params.values()) if (p.grad) p.backend.fill(p.grad.storage, 0);
  }

  /** Named state tensors for checkpointing ("m.<param>", "v.<param>"); the step is metadata. */
  stateTensors(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const [n, t] of this.m) out.set(`m.${n}`, t);
    for (const [n, t] of this.v) out.set(`v.${n}`, t);
    return out;
  }

  loadState(step: number, tensors: Map<string, { data: ArrayLike<number> }>): void {
    for (const [n, t] of this.stateTensors()) {
      const src = tensors.get(n);
      if (!src) throw new Error(`optimizer state lacks ${n}`);
      t.write(src.data);
    }
    this.step = step;
  }
}

/** Global L2 norm of all gradients; if above maxNorm, scale them down to it. Returns the norm before
 *  clipping (NaN/Inf propagate so the caller can detect a diverged step). */
export function clipGradNorm(params: Iterable<Tensor>, maxNorm: number): number {
  let ss = 0;
  const withGrad: Tensor[] = [];
  for (const p of params) {
    if (!p.grad) continue;
    withGrad.push(p);
    ss += p.backend.sumSquares(p.grad.storage);
  }
  return clipTo(withGrad, Math.sqrt(ss), maxNorm);
}

/** clipGradNorm for any backend: a GPU backend reduces on the device and reads the norm once
 *  (one host round trip per step); a CPU backend does exactly what clipGradNorm does. */
export async function clipGradNormAsync(params: Iterable<Tensor>, maxNorm: number): Promise<number> {
  const withGrad = [...params].filter((p) => p.grad);
  // Backends without synchronous reads (WebGPU) offer sumSquaresAsync: one read for all gradients.
  const be = withGrad[0]?.backend as { sumSquaresAsync?: (list: Storage[]) => Promise<number> } | undefined;
  if (!be?.sumSquaresAsync) return clipGradNorm(withGrad, maxNorm);
  const ss = await be.sumSquaresAsync(withGrad.map((p) => p.grad!.storage));
  return clipTo(withGrad, Math.sqrt(ss), maxNorm);
}

function clipTo(withGrad: Tensor[], norm: number, maxNorm: number): number {
  if (Number.isFinite(norm) && maxNorm > 0 && norm > maxNorm) {
    const s = maxNorm / (norm + 1e-6);
    for (const p of withGrad) p.backend.affine(p.grad!.storage, p.grad!.storage, s, 0);
  }
  return norm;
}

export interface ScheduleOptions {
  lr: number;
  totalSteps: number;
  warmupSteps?: number;
  /** Final learning rate as a fraction of lr. */
  minLrRatio?: number;
  kind?: "cosine" | "constant";
}

/** Linear warm-up from 0 to lr, then cosine decay to minLrRatio * lr at totalSteps. step counts from 0. */
export function learningRate(step: number, o: ScheduleOptions): number {
  const warm = o.warmupSteps ?? 0;
  if (step < warm) return (o.lr * (step + 1)) / warm;
  if (o.kind === "constant") return o.lr;
  const minLr = o.lr * (o.minLrRatio ?? 0);
  const span = Math.max(1, o.totalSteps - warm);
  const t = Math.min(1, (step - warm) / span);
  return minLr + 0.5 * (o.lr - minLr) * (1 + Math.cos(Math.PI * t));
}
