// The whole model on the WebGPU backend (SwiftShader in CI): logits, loss and every gradient of the
// tiny Qwen2 fixtures equal PyTorch's golden values; a training step (loss, gradients, clipping,
// AdamW) equals the CPU backend's; KV-cache decoding equals a full forward; greedy generation gives
// the CPU's tokens; memory stays flat over repeated steps (SwiftShader takes seconds a step, so
// "many" is ten here).
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { Backend } from "../src/engine/backend.ts";
import { CpuBackend } from "../src/engine/backends/cpu/backend.ts";
import type { WebGpuBackend } from "../src/engine/backends/webgpu/backend.ts";
import { AdamW, clipGradNormAsync } from "../src/engine/optim.ts";
import { backward, noGrad, tidy } from "../src/engine/tensor.ts";
import { loadModel } from "../src/model/checkpoint.ts";
import { parseModelConfig } from "../src/model/config.ts";
import { nextTokenLoss } from "../src/model/loss.ts";
import { readSafetensorsFileF64 } from "../src/model/safetensors.ts";
import { sample } from "../src/model/sample.ts";
import { KVCache, Transformer } from "../src/model/transformer.ts";
import { normwiseError, withBackendAsync } from "./helpers/backend.ts";
import { skipWebGpu, testGpuBackend } from "./helpers/webgpu.ts";

const FIXTURES = new URL("./fixtures/golden/", import.meta.url).pathname;
const cpu = new CpuBackend("f32");
let gpu: WebGpuBackend;
before(async () => {
  if (!skipWebGpu) gpu = await testGpuBackend();
});
after(() => gpu?.dispose());

const relError = (ours: ArrayLike<number>, ref: ArrayLike<number>, what: string) =>
  normwiseError(ours, ref, what).rel;

const config = parseModelConfig({
  vocab_size: 13,
  hidden_size: 32,
  intermediate_size: 40,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 64,
  initializer_range: 0.3,
});
const seqs = [
  [1, 5, 2, 7, 3, 3, 9, 12, 0],
  [4, 4, 8, 1, 0, 6, 2, 11, 10],
];

/** One training step: loss, gradients, clipping and an AdamW update; returns what the host sees. */
async function trainStep(b: Backend) {
  return withBackendAsync(b, async () => {
    const model = Transformer.init(config, 3);
    const opt = new AdamW(model.parameters(), { lr: 1e-2, eps: 1e-3, weightDecay: 0.1 });
    const ids = Int32Array.from(seqs.flat());
    const loss = tidy(() => {
      const { loss } = nextTokenLoss(model, ids, 2, 9);
      backward(loss);
      return loss;
    });
    const lossValue = (await loss.read())[0];
    loss.dispose();
    const grads = new Map<string, Float32Array>();
    for (const [n, p] of model.parameters()) grads.set(n, Float32Array.from(await p.grad!.read()));
    const norm = await clipGradNormAsync(model.parameters().values(), 0.5);
    opt.update(1e-2);
    const params = new Map<string, Float32Array>();
    for (const [n, p] of model.parameters()) params.set(n, Float32Array.from(await p.read()));
    for (const t of [...model.parameters().values(), ...opt.stateTensors().values()]) t.dispose();
    return { lossValue, grads, norm, params };
  });
}

const describeGpu = skipWebGpu ? describe.skip : describe;

describeGpu("model on the WebGPU backend", () => {
  for (const fixture of ["qwen2_tiny_tied", "qwen2_tiny_untied"])
    test(`${fixture}: logits, loss and every gradient match PyTorch`, async () => {
      const dir = join(FIXTURES, fixture);
      const golden = readSafetensorsFileF64(join(dir, "golden.safetensors")).tensors;
      const get = (name: string) => {
        const t = golden.get(name);
        assert.ok(t, `golden.safetensors lacks ${name}`);
        return t.data;
      };
      await withBackendAsync(gpu, async () => {
        const idsT = golden.get("input_ids")!;
        const [B, T] = idsT.shape;
        const ids = Int32Array.from(idsT.data);
        const model = loadModel(dir);
        const bad: string[] = [];
        const check = (name: string, ours: ArrayLike<number>) => {
          const e = relError(ours, get(name), name);
          if (!(e <= 2e-5)) bad.push(`${name}: ${e.toExponential(2)}`);
        };
        const logits = noGrad(() => model.forward(ids, B, T));
        check("logits", await logits.read());
        logits.dispose();
        const loss = tidy(() => {
          const { loss } = nextTokenLoss(model, ids, B, T);
          backward(loss);
          return loss;
        });
        check("loss", await loss.read());
        for (const [name, p] of model.parameters()) {
          assert.ok(p.grad, `no gradient for ${name}`);
          check(`grad.${name}`, await p.grad.read());
        }
        assert.deepEqual(bad, [], "tensors beyond 2e-5 normwise relative error");
        for (const p of model.parameters().values()) p.dispose();
      });
    });

  test("a training step (loss, every gradient, clipping, AdamW) equals the CPU backend's", async () => {
    const c = await trainStep(cpu);
    const g = await trainStep(gpu);
    assert.ok(
      Math.abs(g.lossValue - c.lossValue) <= 1e-5 * Math.abs(c.lossValue),
      `loss ${g.lossValue} vs ${c.lossValue}`,
    );
    assert.ok(Math.abs(g.norm - c.norm) <= 1e-5 * c.norm, `gradient norm ${g.norm} vs ${c.norm}`);
    assert.ok(c.norm > 0.5, "the step must clip, to test clipping");
    for (const [n, cg] of c.grads) assert.ok(relError(g.grads.get(n)!, cg, n) <= 2e-5, `gradient of ${n}`);
    for (const [n, cp] of c.params) assert.ok(relError(g.params.get(n)!, cp, n) <= 1e-5, `updated ${n}`);
  });

  test("KV-cache decoding gives the logits of a full forward pass", async () => {
    await withBackendAsync(gpu, async () => {
      const model = Transformer.init(config, 3);
      const T = 9;
      const V = config.vocab_size;
      const full = await tidy(() => model.forward(Int32Array.from(seqs.flat()), 2, T)).read();
      const lens = [3, 6];
      const cache = new KVCache(model, 2, T);
      const ids = new Int32Array(2 * 6);
      for (let b = 0; b < 2; b++) ids.set(seqs[b].slice(0, lens[b]), b * 6);
      const pre = await tidy(() => model.forwardCached(ids, 2, 6, cache, new Int32Array(2))).read();
      for (let b = 0; b < 2; b++)
        for (let t = 0; t < lens[b]; t++)
          for (let j = 0; j < V; j++)
            assert.ok(
              Math.abs(pre[(b * 6 + t) * V + j] - full[(b * T + t) * V + j]) < 1e-4,
              `prefill ${b} ${t}`,
            );
      const pos = Int32Array.from(lens);
      for (let step = 0; step < 3; step++) {
        const next = Int32Array.from(seqs.map((s, b) => s[pos[b]]));
        const out = await tidy(() => model.forwardCached(next, 2, 1, cache, pos)).read();
        for (let b = 0; b < 2; b++)
          for (let j = 0; j < V; j++)
            assert.ok(
              Math.abs(out[b * V + j] - full[(b * T + pos[b]) * V + j]) < 1e-4,
              `step ${step} seq ${b}`,
            );
        for (let b = 0; b < 2; b++) pos[b]++;
      }
      cache.dispose();
    });
  });

  test("greedy generation gives the CPU backend's tokens", async () => {
    const generate = (b: Backend) =>
      withBackendAsync(b, async () => {
        const model = Transformer.init(config, 5);
        const out = await sample(model, [[1, 2, 3], [7]], { maxNewTokens: 12, temperature: 0 });
        for (const p of model.parameters().values()) p.dispose();
        return out;
      });
    const c = await generate(cpu);
    const g = await generate(gpu);
    assert.deepEqual(
      g.map((s) => s.tokens),
      c.map((s) => s.tokens),
    );
    for (let i = 0; i < c.length; i++) assert.ok(relError(g[i].logp, c[i].logp, "logp") < 1e-4);
  });

  test("memory stays flat over many small training steps", async () => {
    await withBackendAsync(gpu, async () => {
      const model = Transformer.init(config, 4);
      const opt = new AdamW(model.parameters(), { lr: 1e-3 });
      const ids = Int32Array.from(seqs.flat());
      const footprint: number[] = [];
      for (let step = 0; step < 10; step++) {
        opt.zeroGrad();
        const loss = tidy(() => {
          const { loss } = nextTokenLoss(model, ids, 2, 9);
          backward(loss);
          return loss;
        });
        await clipGradNormAsync(model.parameters().values(), 1);
        opt.update(1e-3);
        assert.ok(Number.isFinite((await loss.read())[0]));
        loss.dispose();
        footprint.push(gpu.liveBytes + gpu.pooledBytes);
      }
      // After the first steps fill the pool, every step reuses the same buffers.
      assert.equal(footprint[9], footprint[3], `footprint ${footprint.join(" ")}`);
      for (const t of [...model.parameters().values(), ...opt.stateTensors().values()]) t.dispose();
    });
  });
});
