// The whole model on the wasm backend (one and two threads): logits, loss and every parameter
// gradient of the tiny Qwen2 fixtures equal PyTorch's golden values (made by
// scripts/golden/make_golden.py) to float32 accuracy, and KV-cache decoding equals a full forward.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { WasmBackend } from "../src/engine/backends/cpu/wasm-backend.ts";
import { backward, noGrad, tidy } from "../src/engine/tensor.ts";
import { loadModel } from "../src/model/checkpoint.ts";
import { parseModelConfig } from "../src/model/config.ts";
import { nextTokenLoss } from "../src/model/loss.ts";
import { readSafetensorsFileF64 } from "../src/model/safetensors.ts";
import { KVCache, Transformer } from "../src/model/transformer.ts";
import { normwiseError, withBackend } from "./helpers/backend.ts";

const FIXTURES = new URL("./fixtures/golden/", import.meta.url).pathname;
const backends = [new WasmBackend({ threads: 1 }), new WasmBackend({ threads: 2 })];
after(() => {
  for (const b of backends) b.dispose();
});

describe("model on the wasm backend", () => {
  for (const fixture of ["qwen2_tiny_tied", "qwen2_tiny_untied"])
    for (const be of backends)
      test(`${fixture}, ${be.threads} thread(s): logits, loss and every gradient match PyTorch`, () => {
        const dir = join(FIXTURES, fixture);
        const golden = readSafetensorsFileF64(join(dir, "golden.safetensors")).tensors;
        const get = (name: string) => {
          const t = golden.get(name);
          assert.ok(t, `golden.safetensors lacks ${name}`);
          return t;
        };
        withBackend(be, () => {
          const idsT = get("input_ids");
          const [B, T] = idsT.shape;
          const ids = Int32Array.from(idsT.data);
          const model = loadModel(dir);
          const bad: string[] = [];
          const check = (name: string, ours: ArrayLike<number>) => {
            const e = normwiseError(ours, get(name).data, name).rel;
            if (!(e <= 2e-5)) bad.push(`${name}: ${e.toExponential(2)}`);
          };
          const logits = noGrad(() => model.forward(ids, B, T));
          check("logits", logits.readSync());
          logits.dispose();
          const { loss } = nextTokenLoss(model, ids, B, T);
          check("loss", loss.readSync());
          backward(loss);
          for (const [name, p] of model.parameters()) {
            assert.ok(p.grad, `no gradient for ${name}`);
            check(`grad.${name}`, p.grad.readSync());
          }
          assert.deepEqual(bad, [], "tensors beyond 2e-5 normwise relative error");
        });
      });

  test("KV-cache decoding gives the logits of a full forward pass", () => {
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
    withBackend(backends[1], () => {
      const model = Transformer.init(config, 3);
      const seqs = [
        [1, 5, 2, 7, 3, 3, 9, 12, 0],
        [4, 4, 8, 1, 0, 6, 2, 11, 10],
      ];
      const T = 9;
      const V = config.vocab_size;
      const full = tidy(() => model.forward(Int32Array.from(seqs.flat()), 2, T)).toArray();
      const lens = [3, 6];
      const cache = new KVCache(model, 2, T);
      const ids = new Int32Array(2 * 6);
      for (let b = 0; b < 2; b++) ids.set(seqs[b].slice(0, lens[b]), b * 6);
      const pre = tidy(() => model.forwardCached(ids, 2, 6, cache, new Int32Array(2))).toArray();
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
        const out = tidy(() => model.forwardCached(next, 2, 1, cache, pos)).toArray();
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
});
