// Rewards: each against hand-computed values, the registry, mixtures and empty responses.

import assert from "node:assert/strict";
import { test } from "node:test";
import { tokenStats } from "../src/engine/ops.ts";
import { tensor, tidy } from "../src/engine/tensor.ts";
import {
  computeRewards,
  correctness,
  format,
  getReward,
  registerReward,
  rewardNames,
  type SampledResponse,
  selfCertainty,
  tokenEntropy,
  trajectoryEntropy,
} from "../src/rewards/index.ts";

type RolloutInit = Omit<Partial<SampledResponse>, "logp" | "entropy" | "selfCertainty"> & {
  logp?: number[];
  entropy?: number[];
  sc?: number[];
};

function rollout(p: RolloutInit = {}): SampledResponse {
  const logp = p.logp ?? [-0.5, -1.5, -1];
  const T = logp.length;
  return {
    responseIds: Array.from({ length: T }, (_, i) => 10 + i),
    responseText: p.responseText ?? "so \\boxed{4}",
    gold: p.gold,
    logp: Float32Array.from(logp),
    entropy: Float32Array.from(p.entropy ?? new Array(T).fill(1)),
    selfCertainty: Float32Array.from(p.sc ?? new Array(T).fill(0.25)),
    group: p.group ?? 0,
  };
}

const grade = (text: string, gold: string) => ({ answer: null, correct: text.includes(`\\boxed{${gold}}`) });

test("internal rewards by hand", () => {
  const r = rollout({ logp: [-0.5, -1.5, -1], entropy: [0.5, 1.0, 1.5], sc: [2, 0.5, 0.5] });
  assert.equal(selfCertainty(r), 1); // (2 + 0.5 + 0.5) / 3
  assert.equal(tokenEntropy(r), -1); // −(0.5 + 1 + 1.5) / 3
  assert.equal(trajectoryEntropy(r), -1); // (−0.5 − 1.5 − 1) / 3
  assert.equal(trajectoryEntropy(r, {}, { reduce: "sum" }), -3);
  assert.throws(() => trajectoryEntropy(r, {}, { reduce: "max" }), /reduce must be "mean" or "sum"/);
  assert.throws(() => trajectoryEntropy(r, {}, { norm: true }), /unknown option "norm"/);
});

test("T = 0: every reward is 0, and the rollout is flagged", () => {
  const empty = rollout({ logp: [], responseText: "", gold: "4" });
  assert.equal(selfCertainty(empty), 0);
  assert.equal(tokenEntropy(empty), 0);
  assert.equal(trajectoryEntropy(empty, {}, { reduce: "sum" }), 0);
  const res = computeRewards(
    [rollout({ gold: "4" }), empty],
    { terms: [{ name: "self-certainty", weight: 1 }] },
    { grade },
  );
  assert.deepEqual(res.empty, [1]);
  assert.deepEqual(Array.from(res.train), [0.25, 0]);
  for (const name of rewardNames()) assert.equal(res.values[name][1], 0, name);
  assert.equal(res.values.correctness[0], 1);
});

test("correctness through the grader; null without a reference or a grader", () => {
  assert.equal(correctness(rollout({ gold: "4" }), { grade }), 1);
  assert.equal(correctness(rollout({ gold: "5" }), { grade }), 0);
  assert.equal(correctness(rollout(), { grade }), null);
  assert.equal(correctness(rollout({ gold: "4" }), {}), null);
});

test("format: a non-empty, balanced \\boxed{}", () => {
  const f = (text: string) => format(rollout({ responseText: text }));
  assert.equal(f("the answer is \\boxed{\\frac{1}{2}}"), 1);
  assert.equal(f("\\boxed{} then \\boxed{7}"), 1);
  assert.equal(f("the answer is 4"), 0);
  assert.equal(f("\\boxed{ }"), 0);
  assert.equal(f("\\boxed{\\frac{1}{2}"), 0); // unclosed
});

test("registry: unknown names list the valid ones; a user reward is one function and a name", () => {
  assert.equal(getReward("self-certainty"), selfCertainty);
  assert.throws(
    () => getReward("confidence"),
    /unknown reward "confidence"; valid: self-certainty, token-entropy/,
  );
  assert.throws(() => registerReward("bad name", () => 0), /invalid reward name/);
  registerReward("length-penalty", (r) => -r.responseIds.length / 100);
  const res = computeRewards([rollout(), rollout({ logp: [-1] })], {
    terms: [{ name: "length-penalty", weight: 2 }],
  });
  assert.deepEqual(Array.from(res.train), [-0.06, -0.02]);
  assert.deepEqual(res.values["length-penalty"], [-0.03, -0.01]);
});

test("weighted-sum mixture; every registered reward is reported", () => {
  const rs = [rollout({ gold: "4", sc: [1, 1, 1] }), rollout({ gold: "5", sc: [3, 3, 3] })];
  const res = computeRewards(
    rs,
    {
      terms: [
        { name: "correctness", weight: 1 },
        { name: "self-certainty", weight: 0.5 },
      ],
    },
    { grade },
  );
  assert.deepEqual(Array.from(res.train), [1 + 0.5, 0 + 1.5]);
  for (const name of ["self-certainty", "token-entropy", "trajectory-entropy", "correctness", "format"])
    assert.equal(res.values[name].length, 2, name);
  assert.deepEqual(res.values["token-entropy"], [-1, -1]);
  assert.deepEqual(res.values.format, [1, 1]);
});

test("group-normalized-sum: normalise each reward within its group, then add", () => {
  // Group 0: correctness 1, 0 → ±1/√2 / (… + 1e-6); self-certainty 1, 3 → ∓ the same.
  // Group 1: all equal → 0.
  const rs = [
    rollout({ gold: "4", sc: [1, 1, 1], group: 0 }),
    rollout({ gold: "5", sc: [3, 3, 3], group: 0 }),
    rollout({ gold: "4", sc: [2, 2, 2], group: 1 }),
    rollout({ gold: "4", sc: [2, 2, 2], group: 1 }),
  ];
  const res = computeRewards(
    rs,
    {
      mode: "group-normalized-sum",
      terms: [
        { name: "correctness", weight: 1 },
        { name: "self-certainty", weight: 0.5 },
      ],
    },
    { grade },
  );
  const z1 = 0.5 / (Math.sqrt(0.5) + 1e-6); // (x − mean)/(std + ε) for a pair differing by 1
  const z2 = 1 / (Math.sqrt(2) + 1e-6); // … differing by 2
  const expected = [z1 - 0.5 * z2, -z1 + 0.5 * z2, 0, 0];
  res.train.forEach((x, i) => {
    assert.ok(Math.abs(x - expected[i]) < 1e-12, `${i}: ${x} vs ${expected[i]}`);
  });
});

test("spec options reach the reward; bad specs and rollouts are clear errors", () => {
  const r = [rollout({ logp: [-1, -2] })];
  const res = computeRewards(r, {
    terms: [{ name: "trajectory-entropy", weight: 1, options: { reduce: "sum" } }],
  });
  assert.deepEqual(Array.from(res.train), [-3]);
  assert.deepEqual(res.values["trajectory-entropy"], [-3]);
  assert.throws(() => computeRewards(r, { terms: [] }), /no terms/);
  assert.throws(() => computeRewards(r, { terms: [{ name: "nope", weight: 1 }] }), /unknown reward "nope"/);
  assert.throws(
    () => computeRewards(r, { terms: [{ name: "format", weight: 1 }], mode: "product" as "weighted-sum" }),
    /unknown reward mixture mode "product"/,
  );
  assert.throws(
    () =>
      computeRewards(r, {
        terms: [
          { name: "format", weight: 1 },
          { name: "format", weight: 2 },
        ],
      }),
    /appears twice/,
  );
  assert.throws(
    () => computeRewards(r, { terms: [{ name: "correctness", weight: 1 }] }),
    /needs a reference answer and a grader/,
  );
  const bad = { ...rollout(), entropy: new Float32Array(2) };
  assert.throws(
    () => computeRewards([bad], { terms: [{ name: "format", weight: 1 }] }),
    /rollout 0: entropy has 2 values for 3/,
  );
});

test("spec identities: −H = KL(p‖U) − log V, sc = KL(U‖p), and E[trajectory] = E[token-entropy] (chain rule)", () => {
  // A two-step policy over V = 3 tokens: step-1 logits z1, step-2 logits depend on y1.
  const V = 3;
  const z1 = [1.5, -0.5, 0.2];
  const z2 = [
    [0.1, 2.0, -1.0],
    [-3.0, 0.0, 3.0],
    [0.5, 0.5, 0.4],
  ];
  const softmax = (z: number[]) => {
    const m = Math.max(...z);
    const e = z.map((x) => Math.exp(x - m));
    const s = e.reduce((a, b) => a + b);
    return e.map((x) => x / s);
  };
  let eTraj = 0;
  let eTok = 0;
  for (let a = 0; a < V; a++)
    for (let b = 0; b < V; b++) {
      const rows = [z1, z2[a]];
      const st = tidy(() => tokenStats(tensor(rows.flat(), [2, V]), Int32Array.from([a, b])).toArray());
      const col = (j: number) => [st[j], st[3 + j]];
      rows.forEach((z, t) => {
        const p = softmax(z);
        const klPU = p.reduce((s, pj) => s + pj * Math.log(pj * V), 0); // KL(p ‖ U)
        const klUP = p.reduce((s, pj) => s + (1 / V) * Math.log(1 / V / pj), 0); // KL(U ‖ p)
        assert.ok(Math.abs(-col(1)[t] - (klPU - Math.log(V))) < 1e-5, "−H = KL(p‖U) − log V");
        assert.ok(Math.abs(col(2)[t] - klUP) < 1e-5, "sc = KL(U‖p)");
      });
      const r = rollout({ logp: col(0), entropy: col(1), sc: col(2) });
      const prob = softmax(z1)[a] * softmax(z2[a])[b];
      eTraj += prob * trajectoryEntropy(r, {}, { reduce: "sum" });
      eTok += prob * tokenEntropy(r) * 2; // (1/T) Σ −H_t with T = 2
    }
  assert.ok(Math.abs(eTraj - eTok) < 1e-5, `E[Σ log p] = ${eTraj}, E[−Σ H] = ${eTok}`);
});
