// Backend switching and normwise error for tests that compare backends or golden values.

import assert from "node:assert/strict";
import type { Backend } from "../../src/engine/backend.ts";
import { getBackend, setBackend } from "../../src/engine/tensor.ts";

/** Run fn with `b` as the current backend, restoring the previous one afterwards. */
export function withBackend<T>(b: Backend, fn: () => T): T {
  const prev = getBackend();
  setBackend(b);
  try {
    return fn();
  } finally {
    setBackend(prev);
  }
}

/** withBackend for an async fn: the previous backend comes back once fn's promise settles. */
export async function withBackendAsync<T>(b: Backend, fn: () => Promise<T>): Promise<T> {
  const prev = getBackend();
  setBackend(b);
  try {
    return await fn();
  } finally {
    setBackend(prev);
  }
}

export interface NormwiseError {
  /** max |ours - ref| */
  abs: number;
  /** max |ours - ref| / max |ref| */
  rel: number;
}

/** Normwise error of `ours` against a reference; every value must be finite. */
export function normwiseError(ours: ArrayLike<number>, ref: ArrayLike<number>, what: string): NormwiseError {
  assert.equal(ours.length, ref.length, `${what}: ${ours.length} values, reference has ${ref.length}`);
  let abs = 0;
  let scale = 0;
  for (let i = 0; i < ref.length; i++) {
    assert.ok(Number.isFinite(ours[i]), `${what}[${i}] = ${ours[i]}`);
    abs = Math.max(abs, Math.abs(ours[i] - ref[i]));
    scale = Math.max(scale, Math.abs(ref[i]));
  }
  return { abs, rel: abs / scale };
}

/** Elementwise |actual − expected| ≤ tol · max(1, |expected|), naming the first index that fails. */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: number,
  what: string,
): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i] - expected[i]);
    assert.ok(
      err <= tol * Math.max(1, Math.abs(expected[i])),
      `${what}[${i}]: ${actual[i]} vs ${expected[i]}`,
    );
  }
}
