// The clipped policy loss against hand-computed values, and its edge cases.

import assert from "node:assert/strict";
import { test } from "node:test";
import { CpuBackend } from "../src/engine/backends/cpu/backend.ts";
import { column, tokenStats } from "../src/engine/ops.ts";
import { backward, parameter, type Tensor, tensor, tidy } from "../src/engine/tensor.ts";
import { aggregationWeights, batchTotals, policyLoss, policyLossPerToken } from "../src/rl/loss.ts";
import { withBackend } from "./helpers/backend.ts";

const f64 = <T>(fn: () => T) => withBackend(new CpuBackend("f64"), fn);

function near(a: number, b: number, tol = 1e-12, what = ""): void {
  assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);
}

/** Loss and d loss / d logp for one call. */
function run(
  logpValues: number[],
  rest: Omit<Parameters<typeof policyLoss>[0], "logp">,
  opts: Parameters<typeof policyLoss>[1] = {},
) {
  const logp = parameter([logpValues.length], logpValues);
  const out = tidy(() => {
    const { loss, stats } = policyLoss({ logp, ...rest }, opts);
    backward(loss);
    return { loss: loss.item(), stats };
  });
  const grad = Array.from(logp.grad?.readSync() ?? new Float64Array(logpValues.length));
  logp.dispose();
  return { ...out, grad };
}

test("clipping: each side of the PPO objective by hand", () => {
  f64(() => {
    // ρ = 1.5, 1.5, 0.5, 0.5, 1.1 with A = 2, −1, −1, 1, 3; ε = 0.2.
    const ratios = [1.5, 1.5, 0.5, 0.5, 1.1];
    const A = [2, -1, -1, 1, 3];
    const old = [-1, -2, -0.5, -3, -1.5];
    const logp = old.map((o, i) => o + Math.log(ratios[i]));
    const N = 5;
    const { loss, grad, stats } = run(logp, {
      oldLogp: old,
      advantages: A,
      mask: [1, 1, 1, 1, 1],
      seqIndex: new Int32Array(N),
    });
    // L_t = −min(ρA, clip(ρ)A):  −min(3, 2.4) = −2.4 (clipped: no gradient);
    // −min(−1.5, −1.2) = 1.5 (gradient −Aρ = 1.5); −min(−0.5, −0.8) = 0.8 (clipped);
    // −min(0.5, 0.8) = −0.5 (gradient −Aρ = −0.5); −min(3.3, 3.3) = −3.3 (gradient −3.3).
    const L = [-2.4, 1.5, 0.8, -0.5, -3.3];
    near(loss, L.reduce((s, x) => s + x) / N, 1e-12, "loss");
    const g = [0, 1.5, 0, -0.5, -3.3].map((x) => x / N);
    for (let i = 0; i < N; i++) near(grad[i], g[i], 1e-12, `grad ${i}`);
    near(stats.pgLoss, loss, 1e-12, "pgLoss");
    assert.equal(stats.clipFracHigh, 1 / 5); // ρ = 1.5 > 1.2 with A > 0
    assert.equal(stats.clipFracLow, 1 / 5); // ρ = 0.5 < 0.8 with A < 0
    near(stats.clipFrac, 2 / 5);
    near(stats.ratioMean, 5.1 / 5);
    near(stats.ratioMax, 1.5);
    assert.equal(stats.tokens, 5);
  });
});

test("clip-higher: ε_high = 0.28 lets ρ = 1.25 through", () => {
  f64(() => {
    const base = { oldLogp: [0], advantages: [1], mask: [1], seqIndex: new Int32Array(1) };
    const sym = run([Math.log(1.25)], base);
    const higher = run([Math.log(1.25)], base, { clipHigh: 0.28 });
    near(sym.loss, -1.2);
    near(sym.grad[0], 0);
    near(higher.loss, -1.25);
    near(higher.grad[0], -1.25);
  });
});

test("on-policy first gradient (ρ = 1): d loss / d logp_t = −A_t / N for token-mean", () => {
  for (const backend of [new CpuBackend("f64"), new CpuBackend("f32")]) {
    withBackend(backend, () => {
      const logp = [-0.3, -2.1, -0.01, -5, -1.7, -0.9];
      const A = [0.5, 0.5, -1.25, -1.25, -1.25, 2];
      const mask = [1, 1, 1, 1, 0, 1]; // one padding token
      // The sampler's log-probs in the backend's precision, as the rollout would store them.
      const old = backend.dtype === "f32" ? Float32Array.from(logp) : logp;
      const { grad, stats } = run(logp, {
        oldLogp: old,
        advantages: A,
        mask,
        seqIndex: Int32Array.from([0, 0, 1, 1, 1, 2]),
      });
      const tol = backend.dtype === "f64" ? 1e-15 : 1e-7;
      for (let i = 0; i < grad.length; i++) near(grad[i], mask[i] ? -A[i] / 5 : 0, tol, `grad ${i}`);
      assert.equal(stats.ratioMean, 1);
      assert.equal(stats.clipFrac, 0);
    });
  }
});

test("aggregation weights by hand", () => {
  // Sequences of 1 and 3 response tokens, one padding token, 2 sequences.
  const mask = [1, 1, 1, 1, 0];
  const seq = Int32Array.from([0, 1, 1, 1, 1]);
  assert.deepEqual(Array.from(aggregationWeights(mask, seq, "token-mean")), [0.25, 0.25, 0.25, 0.25, 0]);
  assert.deepEqual(Array.from(aggregationWeights(mask, seq, "seq-mean-token-mean")), [
    0.5,
    1 / 6,
    1 / 6,
    1 / 6,
    0,
  ]);
  assert.deepEqual(Array.from(aggregationWeights(mask, seq, "seq-mean-token-sum")), [0.5, 0.5, 0.5, 0.5, 0]);
  assert.deepEqual(
    Array.from(aggregationWeights(mask, seq, "seq-mean-token-sum-norm", 10)),
    [0.05, 0.05, 0.05, 0.05, 0],
  );
  // A sequence with no response token does not count in the sequence mean.
  assert.deepEqual(
    Array.from(aggregationWeights([1, 0], Int32Array.from([0, 1]), "seq-mean-token-sum")),
    [1, 0],
  );
  // No response token at all: zero loss, not NaN.
  assert.deepEqual(Array.from(aggregationWeights([0, 0], Int32Array.from([0, 1]), "token-mean")), [0, 0]);
});

test("KL estimators k1, k2, k3 and their gradients by hand", () => {
  f64(() => {
    const d = 0.5; // Δ = log π_θ − log π_ref
    const cases = [
      ["k1", d, 1],
      ["k2", 0.5 * d * d, d],
      ["k3", Math.exp(-d) + d - 1, 1 - Math.exp(-d)],
    ] as const;
    for (const [klType, value, slope] of cases) {
      const { loss, grad, stats } = run(
        [-1],
        { oldLogp: [-1], refLogp: [-1 - d], advantages: [0], mask: [1], seqIndex: new Int32Array(1) },
        { klCoef: 0.1, klType },
      );
      near(loss, 0.1 * value, 1e-15, klType);
      near(grad[0], 0.1 * slope, 1e-15, `${klType} grad`);
      near(stats.klMean, value, 1e-15, `${klType} stat`);
    }
  });
});

test("entropy bonus: −c_H·H_t, gradient −c_H/N into the entropy", () => {
  f64(() => {
    const logp = parameter([2], [-1, -2]);
    const ent = parameter([2], [0.7, 1.3]);
    tidy(() => {
      const { loss, stats } = policyLoss(
        {
          logp,
          entropy: ent,
          oldLogp: [-1, -2],
          advantages: [0, 0],
          mask: [1, 1],
          seqIndex: Int32Array.from([0, 1]),
        },
        { entropyCoef: 0.01 },
      );
      near(loss.item(), -0.01 * 1.0);
      near(stats.entropyMean, 1.0);
      backward(loss);
    });
    assert.deepEqual(Array.from(ent.grad!.readSync()), [-0.005, -0.005]);
  });
});

test("extreme logits (±1e4) give a finite loss and finite gradients", () => {
  for (const backend of [new CpuBackend("f32"), new CpuBackend("f64")]) {
    withBackend(backend, () => {
      const V = 4;
      const rows = [
        [1e4, -1e4, 0, 5],
        [-1e4, 1e4, -1e4, 1e4],
        [0, 0, 0, 0],
      ];
      const logits = parameter([3, V], rows.flat());
      const targets = Int32Array.from([1, 0, 2]); // log p ≈ −2e4, −2e4, log ¼
      tidy(() => {
        const st = tokenStats(logits, targets);
        const { loss, stats } = policyLoss(
          {
            logp: column(st, 0),
            entropy: column(st, 1),
            oldLogp: [0, -1, -30],
            refLogp: [-5, 0, 1e3],
            advantages: [1, -1, 2],
            mask: [1, 1, 1],
            seqIndex: Int32Array.from([0, 0, 1]),
          },
          { klCoef: 0.01, klType: "k3", entropyCoef: 0.01, aggregation: "seq-mean-token-mean" },
        );
        assert.ok(Number.isFinite(loss.item()), `loss ${loss.item()} on ${backend.name}`);
        for (const v of Object.values(stats)) assert.ok(Number.isFinite(v), `stat ${v}`);
        backward(loss);
      });
      for (const g of logits.grad!.readSync()) assert.ok(Number.isFinite(g), `grad ${g} on ${backend.name}`);
      logits.dispose();
    });
  }
});

test("padding tokens get no gradient; per-token loss is exposed unaggregated", () => {
  f64(() => {
    const { grad } = run([-1, -2, -3], {
      oldLogp: [-1.1, -2, -2.5],
      advantages: [1, 1, 1],
      mask: [1, 0, 0],
      seqIndex: Int32Array.from([0, 0, 0]),
    });
    near(grad[0], -Math.exp(0.1));
    assert.equal(grad[1], 0);
    assert.equal(grad[2], 0);
    const pt = tidy(() =>
      policyLossPerToken({
        logp: tensor([Math.log(2)]),
        oldLogp: [0],
        advantages: [-1],
        mask: [1],
        seqIndex: new Int32Array(1),
      }).toArray(),
    );
    assert.deepEqual(pt, [2]); // −min(−2, −1.2)
  });
});

test("bad input gives clear errors", () => {
  f64(() => {
    const logp: Tensor = tensor([0, 0]);
    const base = {
      logp,
      oldLogp: [0, 0],
      advantages: [1, 1],
      mask: [1, 1],
      seqIndex: Int32Array.from([0, 1]),
    };
    assert.throws(() => policyLoss({ ...base, oldLogp: [0] }), /oldLogp has 1 values for 2 tokens/);
    assert.throws(() => policyLoss(base, { klCoef: 0.1 }), /klCoef ≠ 0 needs refLogp/);
    assert.throws(() => policyLoss(base, { entropyCoef: 0.1 }), /needs entropy/);
    assert.throws(() => policyLoss(base, { aggregation: "seq-mean-token-sum-norm" }), /needs maxLen/);
    assert.throws(
      () => policyLoss(base, { aggregation: "token-sum" as "token-mean" }),
      /unknown loss aggregation "token-sum"; valid: token-mean/,
    );
    assert.throws(() => policyLoss(base, { klCoef: 1, klType: "k4" as "k1", refLogp: [0, 0] } as never));
    assert.throws(() => policyLoss(base, { clipLow: 1.5 }), /clip range/);
    assert.throws(() => policyLoss({ ...base, mask: [1, Number.NaN] }), /mask\[1\] = NaN/);
  });
});

test("micro-batches with the mini-batch totals add up to the whole batch's loss and gradient", () => {
  f64(() => {
    const logp = [-0.2, -1.1, -0.7, -2.5, -0.05, -1.6, -0.9];
    const old = [-0.3, -1.0, -0.9, -2.0, -0.1, -1.4, -1.2];
    const ref = [-0.25, -1.3, -0.6, -2.2, -0.2, -1.5, -1.0];
    const A = [1, 1, -0.5, -0.5, -0.5, 2, 2];
    const mask = [1, 1, 1, 1, 0, 1, 1];
    const seq = Int32Array.from([0, 0, 1, 1, 1, 2, 2]);
    const split = 4; // sequences 0-1 | sequence 2 (and the padding of 1 with it)
    for (const aggregation of ["token-mean", "seq-mean-token-mean", "seq-mean-token-sum-norm"] as const) {
      const opts = { aggregation, maxLen: 6, klCoef: 0.1, klType: "k2" as const };
      const whole = run(logp, { oldLogp: old, refLogp: ref, advantages: A, mask, seqIndex: seq }, opts);
      const totals = batchTotals(mask, seq);
      assert.deepEqual(totals, { tokens: 6, sequences: 3 });
      const part = (a: number, b: number) =>
        run(
          logp.slice(a, b),
          {
            oldLogp: old.slice(a, b),
            refLogp: ref.slice(a, b),
            advantages: A.slice(a, b),
            mask: mask.slice(a, b),
            seqIndex: seq.slice(a, b),
          },
          { ...opts, totals },
        );
      const p1 = part(0, split);
      const p2 = part(split, logp.length);
      near(p1.loss + p2.loss, whole.loss, 1e-14, aggregation);
      near(p1.stats.pgLoss + p2.stats.pgLoss, whole.stats.pgLoss, 1e-14, `${aggregation} pg`);
      const g = [...p1.grad, ...p2.grad];
      for (let i = 0; i < g.length; i++) near(g[i], whole.grad[i], 1e-14, `${aggregation} grad ${i}`);
    }
  });
});
