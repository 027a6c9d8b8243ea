// rlif peer of the side-by-side benchmark: the engine on its WebAssembly SIMD backend with
// `--threads` kernel threads. Training step = next-token loss, backward, AdamW (as tmp/step.ts);
// sampling = src/model/sample.ts (batched, KV cache, temperature 1); matmul = the backend kernel.
// Optionally (unless --skip rl) one RL step: rollouts of rl-prompts x rl-group samples, then one
// clipped policy-gradient update through src/rl/loss.ts.

import { initBackend } from "../../src/cli/backend.ts";
import * as op from "../../src/engine/ops.ts";
import { AdamW } from "../../src/engine/optim.ts";
import { backward, getBackend, keep, tidy } from "../../src/engine/tensor.ts";
import { parseModelConfig } from "../../src/model/config.ts";
import { nextTokenLoss } from "../../src/model/loss.ts";
import { sample } from "../../src/model/sample.ts";
import { Transformer } from "../../src/model/transformer.ts";
import { policyLoss } from "../../src/rl/loss.ts";
import {
  lcgIds,
  MODEL_CONFIG,
  type PeerResult,
  parseWorkload,
  peakRssMb,
  printResult,
  timed,
} from "./common.ts";

const w = parseWorkload();
const backendName = await initBackend("wasm", w.threads);
const config = parseModelConfig({ ...MODEL_CONFIG });
const V = config.vocab_size;
const model = Transformer.init(config, 0);
const opt = new AdamW(model.parameters(), { lr: 1e-3, weightDecay: 0.01 });
const result: PeerResult = {
  impl: "rlif",
  threads: w.threads,
  params: model.numParameters(),
  backend: backendName,
  peak_rss_mb: 0,
};

if (!w.skip.has("train")) {
  const { batch: B, seq: T } = w;
  const ids = lcgIds(B * T, 1, V);
  const losses: number[] = [];
  result.train_cpu_ms = [];
  result.train_ms = await timed(
    () => {
      const loss = tidy(() => {
        opt.zeroGrad();
        const { loss } = nextTokenLoss(model, ids, B, T);
        backward(loss);
        opt.update(1e-3);
        return keep(loss);
      });
      losses.push(loss.readSync()[0]);
      loss.dispose();
    },
    w.reps,
    w.warmup,
    result.train_cpu_ms,
  );
  result.train_tokens = B * T;
  result.first_loss = losses[0];
}

if (!w.skip.has("sample")) {
  const ids = lcgIds(w.prompts * w.promptLen, 2, V);
  const prompts = Array.from({ length: w.prompts }, (_, b) =>
    Array.from(ids.subarray(b * w.promptLen, (b + 1) * w.promptLen)),
  );
  let seed = 0;
  result.sample_cpu_ms = [];
  result.sample_ms = await timed(
    () => sample(model, prompts, { maxNewTokens: w.newTokens, temperature: 1, seed: seed++ }),
    w.reps,
    w.warmup,
    result.sample_cpu_ms,
  );
  result.sample_tokens = w.prompts * w.newTokens;
}

if (!w.skip.has("matmul")) {
  const [M, K, N] = w.matmul;
  const be = getBackend();
  const a = be.alloc(M * K);
  const b = be.alloc(K * N);
  const c = be.alloc(M * N);
  const av = lcgIds(M * K, 3, 1000);
  const bv = lcgIds(K * N, 4, 1000);
  be.write(
    a,
    Float32Array.from(av, (x) => x / 500 - 1),
  );
  be.write(
    b,
    Float32Array.from(bv, (x) => x / 500 - 1),
  );
  result.matmul_ms = await timed(() => be.matmul(c, a, b, { M, N, K }), Math.max(w.reps, 5), 2);
  result.matmul_flops = 2 * M * K * N;
}

if (!w.skip.has("rl")) {
  // One GRPO-shaped step: sample G completions for each of P prompts, score them (a stand-in
  // reward: the fraction of even tokens), then one clipped policy-gradient update on the batch.
  const P = w.rlPrompts;
  const G = w.rlGroup;
  const ids = lcgIds(P * w.promptLen, 5, V);
  const prompts: number[][] = [];
  for (let p = 0; p < P; p++)
    for (let g = 0; g < G; g++)
      prompts.push(Array.from(ids.subarray(p * w.promptLen, (p + 1) * w.promptLen)));
  let seed = 100;
  let tokens = 0;
  result.rl_ms = await timed(
    async () => {
      const samples = await sample(model, prompts, {
        maxNewTokens: w.newTokens,
        temperature: 1,
        seed: seed++,
      });
      const B = prompts.length;
      const T = w.promptLen + w.newTokens;
      const seqIds = new Int32Array(B * T);
      const oldLogp = new Float32Array(B * T);
      const mask = new Float32Array(B * T);
      const adv = new Float32Array(B * T);
      const seqIndex = new Int32Array(B * T);
      const reward = samples.map(
        (s) => s.tokens.filter((t) => t % 2 === 0).length / Math.max(1, s.tokens.length),
      );
      for (let b = 0; b < B; b++) {
        const grp = reward.slice(b - (b % G), b - (b % G) + G);
        const mean = grp.reduce((x, y) => x + y, 0) / G;
        const sd = Math.sqrt(grp.reduce((x, y) => x + (y - mean) ** 2, 0) / G) + 1e-6;
        const seq = [...prompts[b], ...samples[b].tokens];
        seqIds.set(seq.slice(0, T), b * T);
        // Row t of the logits predicts token t+1: response token j sits at t = promptLen + j - 1.
        samples[b].tokens.forEach((_, j) => {
          const i = b * T + w.promptLen + j - 1;
          oldLogp[i] = samples[b].logp[j];
          mask[i] = 1;
          adv[i] = (reward[b] - mean) / sd;
        });
        seqIndex.fill(b, b * T, (b + 1) * T);
      }
      tokens = B * w.newTokens;
      const targets = new Int32Array(B * T).fill(-1);
      for (let i = 0; i < B * T; i++) if (mask[i]) targets[i] = seqIds[i + 1];
      tidy(() => {
        opt.zeroGrad();
        const stats = op.tokenStats(model.forward(seqIds, B, T), targets);
        const { loss } = policyLoss(
          { logp: op.column(stats, 0), oldLogp, advantages: adv, mask, seqIndex },
          { clipLow: 0.2, clipHigh: 0.28 },
        );
        backward(loss);
        opt.update(1e-6);
      });
    },
    Math.max(1, w.reps - 1),
    w.warmup,
  );
  result.rl_tokens = tokens;
}

result.peak_rss_mb = peakRssMb();
printResult(result);
process.exit(0);
