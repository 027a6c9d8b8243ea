// Finite-difference gradient checks in float64 on the reference CPU backend.

import assert from "node:assert/strict";
import { CpuBackend } from "../../src/engine/backends/cpu/backend.ts";
import * as op from "../../src/engine/ops.ts";
import { Random } from "../../src/engine/random.ts";
import { backward, parameter, type Tensor, tidy } from "../../src/engine/tensor.ts";
import { withBackend } from "./backend.ts";

/** Run fn with the float64 reference backend as the current backend. */
export function withF64<T>(fn: () => T): T {
  return withBackend(new CpuBackend("f64"), fn);
}

export function randn(rng: Random, n: number, scale = 1): number[] {
  return Array.from({ length: n }, () => scale * rng.normal());
}

/**
 * Checks d(sum(f(x) * r))/dx for every input against central differences.
 * `inputs` are [shape, values] pairs; f receives parameters (requiresGrad) in that order.
 */
export function gradcheck(
  name: string,
  inputs: [number[], number[]][],
  f: (xs: Tensor[]) => Tensor,
  opts: { h?: number; tol?: number; seed?: number } = {},
): void {
  const h = opts.h ?? 1e-6;
  const tol = opts.tol ?? 1e-6;
  withF64(() => {
    const rng = new Random(opts.seed ?? 7);
    const xs = inputs.map(([shape, v]) => parameter(shape, v));
    let weights: number[] = [];
    const objective = (): number =>
      tidy(() => {
        const y = f(xs);
        if (weights.length !== y.size) weights = randn(rng, y.size);
        const s = op.sum(op.mul(y, op.constant(weights, y.shape, y)));
        return s.item();
      });
    objective(); // fixes the random projection
    tidy(() => {
      const y = f(xs);
      const s = op.sum(op.mul(y, op.constant(weights, y.shape, y)));
      backward(s);
    });
    for (let i = 0; i < xs.length; i++) {
      const x = xs[i];
      const data = x.readSync();
      const analytic = x.grad ? Array.from(x.grad.readSync()) : new Array(x.size).fill(0);
      for (let j = 0; j < x.size; j++) {
        const orig = data[j];
        data[j] = orig + h;
        const fp = objective();
        data[j] = orig - h;
        const fm = objective();
        data[j] = orig;
        const numeric = (fp - fm) / (2 * h);
        const err = Math.abs(numeric - analytic[j]) / Math.max(1, Math.abs(numeric));
        assert.ok(
          err < tol,
          `${name}: input ${i}[${j}] analytic ${analytic[j]} vs numeric ${numeric} (rel err ${err})`,
        );
      }
    }
    for (const x of xs) x.dispose();
  });
}
