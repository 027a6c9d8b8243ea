// Every differentiable op against float64 central differences.

import { describe, test } from "node:test";
import * as op from "../src/engine/ops.ts";
import { Random } from "../src/engine/random.ts";
import { gradcheck, randn } from "./helpers/gradcheck.ts";

const rng = new Random(123);
const r = (n: number, s = 1) => randn(rng, n, s);
/** Values kept away from 0 so kinked ops (relu, abs, min, clamp) are differentiable at them. */
const awayFromZero = (n: number) => r(n).map((x) => (x >= 0 ? x + 0.3 : x - 0.3));

describe("gradient check (float64 finite differences)", () => {
  for (const name of ["add", "sub", "mul", "div", "minimum", "maximum"] as const) {
    test(name, () => {
      const b = name === "div" ? awayFromZero(6).map((x) => x * 2) : r(6);
      const a = r(6);
      if (name === "minimum" || name === "maximum")
        for (let i = 0; i < 6; i++) b[i] = a[i] + (i % 2 ? 0.5 : -0.5);
      gradcheck(
        name,
        [
          [[2, 3], a],
          [[2, 3], b],
        ],
        ([x, y]) => op[name](x, y),
      );
    });
    test(`${name} with a scalar`, () => {
      gradcheck(
        name,
        [
          [[5], r(5)],
          [[1], [name === "div" ? 1.7 : 0.05]],
        ],
        ([x, y]) => op[name](x, y),
      );
    });
  }
  for (const name of ["neg", "exp", "square", "relu", "sigmoid", "silu", "abs"] as const)
    test(name, () => gradcheck(name, [[[7], awayFromZero(7)]], ([x]) => op[name](x)));
  test("log", () => gradcheck("log", [[[5], r(5).map((x) => Math.abs(x) + 0.5)]], ([x]) => op.log(x)));
  test("sqrt", () => gradcheck("sqrt", [[[5], r(5).map((x) => Math.abs(x) + 0.5)]], ([x]) => op.sqrt(x)));
  test("clamp", () => gradcheck("clamp", [[[6], [-2, -0.5, 0.1, 0.7, 1.5, 3]]], ([x]) => op.clamp(x, -1, 1)));
  test("affine", () => gradcheck("affine", [[[4], r(4)]], ([x]) => op.affine(x, -2.5, 0.3)));
  test("sum, mean, sumRows", () => {
    gradcheck("sum", [[[3, 4], r(12)]], ([x]) => op.sum(x));
    gradcheck("mean", [[[3, 4], r(12)]], ([x]) => op.mean(x));
    gradcheck("sumRows", [[[3, 4], r(12)]], ([x]) => op.sumRows(x));
  });
  test("column", () => gradcheck("column", [[[4, 3], r(12)]], ([x]) => op.column(x, 1)));
  test("reshape", () =>
    gradcheck("reshape", [[[2, 6], r(12)]], ([x]) => op.mul(x.reshape([3, 4]), x.reshape([3, 4]))));
  for (const ta of [false, true])
    for (const tb of [false, true])
      test(`matmul transA=${ta} transB=${tb}`, () => {
        const [M, K, N] = [3, 5, 4];
        gradcheck(
          "matmul",
          [
            [ta ? [K, M] : [M, K], r(M * K)],
            [tb ? [N, K] : [K, N], r(K * N)],
          ],
          ([a, b]) => op.matmul(a, b, ta, tb),
        );
      });
  test("linear with bias", () =>
    gradcheck(
      "linear",
      [
        [[4, 3], r(12)],
        [[5, 3], r(15)],
        [[5], r(5)],
      ],
      ([x, w, b]) => op.linear(x, w, b),
    ));
  test("embedding (repeated ids accumulate)", () =>
    gradcheck("embedding", [[[5, 3], r(15)]], ([t]) => op.embedding(new Int32Array([1, 4, 1, 0]), t)));
  test("rmsnorm", () =>
    gradcheck(
      "rmsnorm",
      [
        [[3, 6], r(18)],
        [[6], r(6)],
      ],
      ([x, w]) => op.rmsnorm(x, w, 1e-6),
    ));
  test("rope", () =>
    gradcheck("rope", [[[3, 2, 4], r(24)]], ([x]) => op.rope(x, new Int32Array([0, 5, 17]), 10000)));
  test("rope with llama3 frequency scaling", () =>
    gradcheck("rope", [[[3, 2, 8], r(48)]], ([x]) =>
      op.rope(x, new Int32Array([0, 5, 17]), 10000, {
        factor: 8,
        lowFreqFactor: 1,
        highFreqFactor: 4,
        originalMaxPositions: 64,
      }),
    ));
  test("attention (causal, grouped kv heads)", () => {
    const [B, T, Hq, Hkv, D] = [2, 4, 4, 2, 3];
    gradcheck(
      "attention",
      [
        [[B * T, Hq, D], r(B * T * Hq * D)],
        [[B * T, Hkv, D], r(B * T * Hkv * D)],
        [[B * T, Hkv, D], r(B * T * Hkv * D)],
      ],
      ([q, k, v]) => op.attention(q, k, v, B, T),
    );
  });
  test("swiglu", () =>
    gradcheck(
      "swiglu",
      [
        [[6], r(6)],
        [[6], r(6)],
      ],
      ([g, u]) => op.swiglu(g, u),
    ));
  test("tokenStats (log p, entropy, self-certainty), ignored targets", () =>
    gradcheck("tokenStats", [[[4, 5], r(20, 2)]], ([z]) => op.tokenStats(z, new Int32Array([2, 0, -1, 4]))));
  test("tokenStats with extreme logits", () =>
    gradcheck(
      "tokenStats",
      [
        [
          [2, 3],
          [30, -30, 0, 12, 11.5, -8],
        ],
      ],
      ([z]) => op.tokenStats(z, new Int32Array([1, 0])),
    ));
});
