// Policy-loss variants (rl/surrogates.ts: dual clip, GSPO, Clip-Cov, KL-Cov) and the covariance
// selections (rl/covariance.ts) against PyTorch float64 golden values
// (scripts/golden/make_rl_golden.py, key "methods" of test/fixtures/rl/golden.json).

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import type { Backend } from "../src/engine/backend.ts";
import { CpuBackend } from "../src/engine/backends/cpu/backend.ts";
import { constant, mul, sum } from "../src/engine/ops.ts";
import { backward, getBackend, parameter, setBackend, tidy } from "../src/engine/tensor.ts";
import { perToken } from "../src/rl/advantages.ts";
import {
  clipCovSelect,
  klCovSelect,
  meanCovariance,
  selectionCount,
  tokenCovariance,
} from "../src/rl/covariance.ts";
import { type Aggregation, aggregationWeights, policyLoss } from "../src/rl/loss.ts";
import { policyLosses, type SurrogateOptions } from "../src/rl/surrogates.ts";
import { assertClose } from "./helpers/backend.ts";

interface Methods {
  oldLogp: number[];
  covRatio: number;
  clipRatioC: number;
  covLb: number;
  covUb: number;
  klCovCoef: number;
  covariance: (number | null)[];
  covarianceMean: number;
  clipCovCandidates: number[];
  clipCovSelected: number[];
  klCovSelected: number[];
  clippedLow: number;
  clippedHigh: number;
  clippedDual: number;
  cases: {
    policyLoss: string;
    aggregation: Aggregation;
    loss: number;
    perToken: number[];
    gradLogp: number[];
  }[];
}
interface Golden {
  B: number;
  Tmax: number;
  mask: number[];
  seqIndex: number[];
  logp: number[];
  advantages: { grpo: number[] };
  methods: Methods;
}

const golden: Golden = JSON.parse(readFileSync(new URL("fixtures/rl/golden.json", import.meta.url), "utf8"));
const m = golden.methods;
const N = golden.B * golden.Tmax;
const seqIndex = Int32Array.from(golden.seqIndex);
const advTok = perToken(golden.advantages.grpo, seqIndex);
const mask = golden.mask;

const close = assertClose;

/** The surrogate name and options of a golden case ("dual-clip" is vanilla with c). */
function setup(name: string): { surrogate: string; options: SurrogateOptions } {
  const options: SurrogateOptions = {
    clipLow: 0.2,
    clipHigh: 0.2,
    covRatio: m.covRatio,
    covLb: m.covLb,
    covUb: m.covUb,
    klCovCoef: m.klCovCoef,
    random: () => 0, // Clip-Cov then takes the first candidates, as the golden script does
  };
  if (name === "dual-clip")
    return { surrogate: "vanilla", options: { ...options, clipRatioC: m.clipRatioC } };
  return { surrogate: name, options };
}

let prev: Backend;
before(() => {
  prev = getBackend();
  setBackend(new CpuBackend("f64"));
});
after(() => setBackend(prev));

test("token covariance and its mean match PyTorch", () => {
  const cov = tokenCovariance(advTok, golden.logp, mask);
  for (let t = 0; t < N; t++) {
    const g = m.covariance[t];
    if (g === null) assert.ok(Number.isNaN(cov[t]), `cov[${t}] on a masked token`);
    else assert.ok(Math.abs(cov[t] - g) <= 1e-12 * Math.max(1, Math.abs(g)), `cov[${t}]: ${cov[t]} vs ${g}`);
  }
  close([meanCovariance(cov, mask)], [m.covarianceMean], 1e-12, "mean covariance");
});

test("Clip-Cov and KL-Cov select the tokens PyTorch selects", () => {
  const cov = tokenCovariance(advTok, golden.logp, mask);
  assert.equal(selectionCount(mask, m.covRatio), m.clipCovSelected.length);
  const ratio = golden.logp.map((lp, t) => Math.exp(lp - m.oldLogp[t]));
  const clipped = ratio.map((r, t) => -advTok[t] * Math.min(1.2, Math.max(0.8, r)) > -advTok[t] * r);
  const band = { ratio: m.covRatio, lb: m.covLb, ub: m.covUb };
  assert.deepEqual(
    clipCovSelect(cov, mask, clipped, band, () => 0),
    m.clipCovSelected,
  );
  // With every candidate allowed (ratio 1), the selection is exactly PyTorch's candidate set.
  assert.deepEqual(
    clipCovSelect(cov, mask, clipped, { ...band, ratio: 1 }, Math.random),
    m.clipCovCandidates,
  );
  assert.deepEqual(klCovSelect(cov, mask, m.covRatio), m.klCovSelected);
});

test("Clip-Cov draws uniformly among the candidates", () => {
  const cov = tokenCovariance(advTok, golden.logp, mask);
  const none = new Array(N).fill(false);
  const band = { ratio: m.covRatio, lb: m.covLb, ub: m.covUb };
  const candidates = clipCovSelect(cov, mask, none, { ...band, ratio: 1 }, () => 0);
  const k = selectionCount(mask, m.covRatio);
  const counts = new Map<number, number>();
  let state = 12345;
  const random = () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state / 2 ** 32;
  };
  const draws = 6000;
  for (let i = 0; i < draws; i++) {
    const sel = clipCovSelect(cov, mask, none, band, random);
    assert.equal(sel.length, k);
    assert.equal(new Set(sel).size, k);
    for (const t of sel) counts.set(t, (counts.get(t) ?? 0) + 1);
  }
  const expected = (draws * k) / candidates.length;
  for (const t of candidates) {
    const c = counts.get(t) ?? 0;
    assert.ok(Math.abs(c - expected) < 6 * Math.sqrt(expected), `candidate ${t}: ${c} vs ${expected}`);
  }
  assert.equal([...counts.keys()].filter((t) => !candidates.includes(t)).length, 0);
  assert.throws(() => clipCovSelect(cov, mask, none, { ...band, lb: 5, ub: 1 }, random), /lb < ub/);
  assert.throws(() => selectionCount(mask, 0), /ratio must be in/);
});

test("loss variants: per-token loss, aggregated loss and d loss / d logp match PyTorch", () => {
  assert.equal(m.cases.length, 12);
  for (const c of m.cases) {
    const { surrogate, options } = setup(c.policyLoss);
    const logp = parameter([N], golden.logp);
    tidy(() => {
      const inputs = { logp, oldLogp: m.oldLogp, advantages: advTok, mask, seqIndex };
      const { loss: perTok } = policyLosses.get(surrogate)(inputs, options);
      const vals = perTok.readSync();
      close(
        Array.from(vals, (v, t) => v * mask[t]),
        c.perToken,
        1e-12,
        `per-token ${c.policyLoss}`,
      );
      const w = aggregationWeights(mask, seqIndex, c.aggregation);
      const loss = sum(mul(perTok, constant(w, [N], logp)));
      close([loss.item()], [c.loss], 1e-12, `loss ${c.policyLoss} ${c.aggregation}`);
      backward(loss);
      close(logp.grad!.readSync(), c.gradLogp, 1e-12, `grad ${c.policyLoss} ${c.aggregation}`);
    });
    logp.dispose();
  }
});

test("clip counts: low, high and dual match PyTorch; KL-Cov clips nothing", () => {
  tidy(() => {
    const logp = parameter([N], golden.logp);
    const inputs = { logp, oldLogp: m.oldLogp, advantages: advTok, mask, seqIndex };
    const dual = setup("dual-clip");
    const s = policyLosses.get("vanilla")(inputs, dual.options).stats;
    assert.deepEqual(
      [s.clippedLow, s.clippedHigh, s.clippedDual],
      [m.clippedLow, m.clippedHigh, m.clippedDual],
    );
    assert.equal(policyLosses.get("vanilla")(inputs, { clipLow: 0.2, clipHigh: 0.2 }).stats.clippedDual, 0);
    const k = policyLosses.get("kl-cov")(inputs, setup("kl-cov").options).stats;
    assert.deepEqual([k.clippedLow, k.clippedHigh, k.covSelected], [0, 0, m.klCovSelected.length]);
    const cc = policyLosses.get("clip-cov")(inputs, setup("clip-cov").options).stats;
    assert.equal(cc.covSelected, m.clipCovSelected.length);
    assert.throws(
      () => policyLosses.get("vanilla")(inputs, { ...dual.options, clipRatioC: 1 }),
      /must be > 1/,
    );
    assert.throws(
      () => policyLosses.get("ppo2"),
      /unknown policy loss "ppo2"; valid: vanilla, unclipped, gspo, clip-cov, kl-cov/,
    );
    logp.dispose();
  });
});

test("KL-Cov on policy (old log-probs equal up to rounding) has the unclipped surrogate's gradient", () => {
  tidy(() => {
    const old = Float64Array.from(golden.logp, (v, t) => v + (t % 2 ? 3e-7 : -3e-7));
    const grads = ["kl-cov", "unclipped"].map((name) => {
      const logp = parameter([N], golden.logp);
      const inputs = { logp, oldLogp: old, advantages: advTok, mask, seqIndex };
      const opts =
        name === "kl-cov" ? { ...setup("kl-cov").options, covRatio: 0.5 } : { clipLow: 0.2, clipHigh: 0.2 };
      const { loss, stats } = policyLosses.get(name)(inputs, opts);
      if (name === "kl-cov") assert.ok(stats.covSelected > 0);
      backward(sum(mul(loss, constant(mask, [N], logp))));
      const g = Array.from(logp.grad!.readSync());
      logp.dispose();
      return g;
    });
    assert.deepEqual(grads[0], grads[1]);
  });
});

test("GSPO: every token of a sequence carries the sequence's geometric-mean ratio", () => {
  tidy(() => {
    const logp = parameter([N], golden.logp);
    const inputs = { logp, oldLogp: m.oldLogp, advantages: advTok, mask, seqIndex };
    const { ratio } = policyLosses.get("gspo")(inputs, { clipLow: 0.2, clipHigh: 0.2 }).stats;
    const T = golden.Tmax;
    for (let b = 0; b < golden.B; b++) {
      let s = 0;
      let n = 0;
      for (let t = b * T; t < (b + 1) * T; t++)
        if (mask[t] > 0) {
          s += golden.logp[t] - m.oldLogp[t];
          n++;
        }
      for (let t = b * T; t < (b + 1) * T; t++)
        assert.ok(Math.abs(ratio[t] - Math.exp(s / n)) < 1e-12, `sequence ${b} token ${t}`);
    }
    logp.dispose();
  });
});

test("policyLoss dispatches by name: the same losses, gradients and the new statistics", () => {
  const tokens = mask.filter((x) => x > 0).length;
  for (const c of m.cases) {
    const { surrogate, options } = setup(c.policyLoss);
    const logp = parameter([N], golden.logp);
    tidy(() => {
      const { loss, stats } = policyLoss(
        { logp, oldLogp: m.oldLogp, advantages: advTok, mask, seqIndex },
        { ...options, policyLoss: surrogate, aggregation: c.aggregation },
      );
      close([loss.item(), stats.pgLoss], [c.loss, c.loss], 1e-12, `loss ${c.policyLoss} ${c.aggregation}`);
      backward(loss);
      close(logp.grad!.readSync(), c.gradLogp, 1e-12, `grad ${c.policyLoss} ${c.aggregation}`);
      close([stats.entropyCov], [m.covarianceMean], 1e-12, "entropy covariance");
      if (c.policyLoss === "dual-clip") assert.equal(stats.clipFracDual, m.clippedDual / tokens);
      if (c.policyLoss === "vanilla")
        assert.deepEqual(
          [stats.clipFracLow, stats.clipFracHigh, stats.clipFracDual],
          [m.clippedLow / tokens, m.clippedHigh / tokens, 0],
        );
      if (c.policyLoss === "kl-cov") assert.equal(stats.covSelectedFrac, m.klCovSelected.length / tokens);
    });
    logp.dispose();
  }
  const logp = parameter([N], golden.logp);
  assert.throws(
    () =>
      policyLoss(
        { logp, oldLogp: m.oldLogp, advantages: advTok, mask, seqIndex },
        { policyLoss: "gspo", clipRatioC: 3 },
      ),
    /dual clip \(clipRatioC\) applies to vanilla only, not gspo/,
  );
  assert.throws(
    () => policyLoss({ logp, oldLogp: m.oldLogp, advantages: advTok, mask, seqIndex }, { policyLoss: "ppo" }),
    /unknown policy loss "ppo"/,
  );
  logp.dispose();
});
