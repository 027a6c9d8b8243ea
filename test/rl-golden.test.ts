// The RL loss, advantages and rewards against PyTorch float64 golden values
// (scripts/golden/make_rl_golden.py -> test/fixtures/rl/golden.json).

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import type { Backend } from "../src/engine/backend.ts";
import { CpuBackend } from "../src/engine/backends/cpu/backend.ts";
import { column, tokenStats } from "../src/engine/ops.ts";
import { backward, getBackend, parameter, setBackend, tensor, tidy } from "../src/engine/tensor.ts";
import { passAtK } from "../src/eval/metrics.ts";
import { selfCertainty, tokenEntropy, trajectoryEntropy } from "../src/rewards/internal.ts";
import { computeAdvantages, perToken } from "../src/rl/advantages.ts";
import { type Aggregation, type KlType, policyLoss, policyLossPerToken } from "../src/rl/loss.ts";
import type { Rollout } from "../src/rl/rollout.ts";
import { assertClose } from "./helpers/backend.ts";

interface LossConfig {
  clipLow: number;
  clipHigh: number;
  klType: KlType | null;
  klCoef: number;
  entropyCoef: number;
}
interface Golden {
  V: number;
  B: number;
  Tmax: number;
  maxLen: number;
  logits: number[];
  targets: number[];
  mask: number[];
  seqIndex: number[];
  oldLogp: number[];
  refLogp: number[];
  logp: number[];
  entropy: number[];
  rewards: number[];
  groups: number[];
  advantages: Record<"grpo" | "grpoNoStd" | "rloo" | "reinforce" | "reinforceWhiten", number[]>;
  perToken: (LossConfig & { perToken: number[] })[];
  cases: (LossConfig & {
    aggregation: Aggregation;
    loss: number;
    gradLogp: number[];
    gradLogits?: number[];
  })[];
  responseRewards: Record<string, number>[];
  passAtK: { n: number; c: number; k: number; value: number }[];
}

const golden: Golden = JSON.parse(readFileSync(new URL("fixtures/rl/golden.json", import.meta.url), "utf8"));
const N = golden.B * golden.Tmax;
const seqIndex = Int32Array.from(golden.seqIndex);
const targets = Int32Array.from(golden.targets);
const advTok = perToken(golden.advantages.grpo, seqIndex);

const close = assertClose;

function options(c: LossConfig & { aggregation?: Aggregation }) {
  return {
    clipLow: c.clipLow,
    clipHigh: c.clipHigh,
    klType: c.klType ?? undefined,
    klCoef: c.klCoef,
    entropyCoef: c.entropyCoef,
    aggregation: c.aggregation,
    maxLen: golden.maxLen,
  };
}

let prev: Backend;
before(() => {
  prev = getBackend();
  setBackend(new CpuBackend("f64"));
});
after(() => setBackend(prev));

test("advantages match PyTorch", () => {
  const { rewards, groups, advantages: a } = golden;
  close(computeAdvantages("grpo", rewards, groups), a.grpo, 1e-12, "grpo");
  close(
    computeAdvantages("grpo", rewards, groups, { normalizeStd: false }),
    a.grpoNoStd,
    1e-12,
    "grpo no std",
  );
  close(computeAdvantages("rloo", rewards, groups), a.rloo, 1e-12, "rloo");
  close(computeAdvantages("reinforce", rewards, groups), a.reinforce, 1e-12, "reinforce");
  close(
    computeAdvantages("reinforce", rewards, groups, { whiten: true }),
    a.reinforceWhiten,
    1e-12,
    "whiten",
  );
});

test("per-token losses match PyTorch for every KL type, clip setting and entropy bonus", () => {
  for (const c of golden.perToken) {
    tidy(() => {
      const logp = tensor(golden.logp);
      const entropy = tensor(golden.entropy);
      const inputs = {
        logp,
        entropy,
        oldLogp: golden.oldLogp,
        refLogp: golden.refLogp,
        advantages: advTok,
        mask: golden.mask,
        seqIndex,
      };
      close(
        policyLossPerToken(inputs, options(c)).readSync(),
        c.perToken,
        1e-12,
        `per-token ${JSON.stringify(c)}`,
      );
    });
  }
});

test("aggregated loss and d loss / d logp match PyTorch for every aggregation mode", () => {
  assert.equal(golden.cases.length, 32);
  for (const c of golden.cases) {
    const logp = parameter([N], golden.logp);
    tidy(() => {
      const { loss } = policyLoss(
        {
          logp,
          entropy: tensor(golden.entropy),
          oldLogp: golden.oldLogp,
          refLogp: golden.refLogp,
          advantages: advTok,
          mask: golden.mask,
          seqIndex,
        },
        options(c),
      );
      const what = `${c.aggregation} ${c.klType} clip ${c.clipHigh} H ${c.entropyCoef}`;
      close([loss.item()], [c.loss], 1e-12, `loss ${what}`);
      backward(loss);
      // The entropy term's gradient flows into the entropy tensor, not logp; torch's logp.grad
      // is likewise the gradient through logp alone.
      close(logp.grad!.readSync(), c.gradLogp, 1e-12, `grad logp ${what}`);
    });
    logp.dispose();
  }
});

test("d loss / d logits through tokenStats matches PyTorch (log_softmax gather + entropy)", () => {
  const withLogits = golden.cases.filter((c) => c.gradLogits);
  assert.ok(withLogits.length >= 4);
  for (const c of withLogits) {
    const logits = parameter([N, golden.V], golden.logits);
    tidy(() => {
      const st = tokenStats(logits, targets);
      const { loss } = policyLoss(
        {
          logp: column(st, 0),
          entropy: column(st, 1),
          oldLogp: golden.oldLogp,
          refLogp: golden.refLogp,
          advantages: advTok,
          mask: golden.mask,
          seqIndex,
        },
        options(c),
      );
      close([loss.item()], [c.loss], 1e-12, `loss ${c.aggregation}`);
      backward(loss);
      close(logits.grad!.readSync(), c.gradLogits!, 1e-11, `grad logits ${c.aggregation} H ${c.entropyCoef}`);
    });
    logits.dispose();
  }
});

test("rewards computed from the engine's tokenStats match PyTorch's per-response values", () => {
  const st = tidy(() =>
    tokenStats(tensor(golden.logits, [N, golden.V]), targets)
      .readSync()
      .slice(),
  );
  const T = golden.Tmax;
  golden.responseRewards.forEach((expected, b) => {
    const len = golden.mask.slice(b * T, (b + 1) * T).reduce((s, m) => s + m, 0);
    const col = (j: number) => Float32Array.from({ length: len }, (_, t) => st[(b * T + t) * 3 + j]);
    const r: Rollout = {
      promptIds: [],
      responseIds: Array.from({ length: len }, (_, t) => targets[b * T + t]),
      responseText: "",
      logp: col(0),
      entropy: col(1),
      selfCertainty: col(2),
      truncated: false,
      group: 0,
    };
    // Rollouts hold float32: compare at float32 precision.
    close([selfCertainty(r)], [expected["self-certainty"]], 1e-6, `self-certainty ${b}`);
    close([tokenEntropy(r)], [expected["token-entropy"]], 1e-6, `token-entropy ${b}`);
    close([trajectoryEntropy(r)], [expected["trajectory-entropy"]], 1e-6, `trajectory-entropy ${b}`);
    close(
      [trajectoryEntropy(r, {}, { reduce: "sum" })],
      [expected["trajectory-entropy-sum"]],
      1e-6,
      `sum ${b}`,
    );
  });
});

test("pass@k matches the exact binomial formula", () => {
  for (const { n, c, k, value } of golden.passAtK)
    close([passAtK(n, c, k)], [value], 1e-12, `pass@${k} n=${n} c=${c}`);
});
