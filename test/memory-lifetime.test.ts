// What a long process leaves in the wasm backend's memory, which no garbage collector frees. The
// quick study (11 runs, then the theory checks, in one process) once grew its live bytes by each
// run's model, gradients and AdamW moments (16 -> 162 MiB), and a forward pass without autodiff
// (a sampling prefill) kept every layer's activations until it returned: 128 theory prompts took
// ~1 GiB at once, and the heap, which never shrinks, grew to 3.1 GiB of the 4 GiB there is.

import assert from "node:assert/strict";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { WasmBackend } from "../src/engine/backends/cpu/wasm-backend.ts";
import { noGrad, tidy } from "../src/engine/tensor.ts";
import { loadModel } from "../src/model/checkpoint.ts";
import { sequenceEvalBytes } from "../src/model/memory.ts";
import { trainRl } from "../src/rl/trainer.ts";
import { PROFILES } from "../src/study/profiles.ts";
import { updateTheory } from "../src/study/theory.ts";
import { withBackendAsync } from "./helpers/backend.ts";
import { withTmpDir } from "./helpers/tmp.ts";
import { toyConfig, toyDeps, toyModel } from "./helpers/toy-rl.ts";

const be = new WasmBackend({ threads: 2 });
after(() => be.dispose());
const organism = new URL("../models/organism-base", import.meta.url).pathname;
const MiB = 2 ** 20;

describe("memory over a long process (wasm backend)", () => {
  it("a forward pass without autodiff holds one block's activations, not every layer's", () =>
    withBackendAsync(be, async () => {
      const model = loadModel(organism);
      try {
        const B = 16;
        const T = 128;
        const ids = Int32Array.from({ length: B * T }, (_, i) => 2 + ((i * 7) % 90));
        const peak = (grad: boolean) => {
          const pass = () => tidy(() => void model.forward(ids, B, T));
          be.resetMemoryPeak();
          const before = be.memoryStats().inUse;
          if (grad) pass();
          else noGrad(pass);
          return be.memoryStats().peak - before;
        };
        // memory.ts's estimate for the prompt pass of B sequences (one block's activations, the
        // logits; its KV-cache term is the per-sequence bytes at a context of 0).
        const bound = B * sequenceEvalBytes(model.config, T, 0) + 4 * B * T * model.dims.V;
        const without = peak(false);
        const kept = peak(true); // what autodiff keeps for the backward pass: every layer's
        assert.ok(
          without <= bound,
          `no autodiff: peak ${(without / MiB).toFixed(1)} MiB over ${(bound / MiB).toFixed(1)} MiB`,
        );
        assert.ok(kept > 2 * bound, `autodiff: ${(kept / MiB).toFixed(1)} MiB (the bound would catch it)`);
      } finally {
        model.dispose();
      }
    }));

  it(
    "RL runs (plain, with a reference model, resumed) leave live memory where they found it",
    withTmpDir((dir) =>
      withBackendAsync(be, async () => {
        let n = 0;
        const fresh = () => join(dir, `run-${n++}`);
        const kinds = [
          () => trainRl(toyModel(0), toyConfig(fresh(), { steps: 2 }), toyDeps()),
          () =>
            trainRl(toyModel(0), toyConfig(fresh(), { steps: 2, algo: { kl_coef: 0.1 } }), {
              ...toyDeps(),
              loadReference: () => toyModel(0),
            }),
          async () => {
            const out = fresh();
            (await trainRl(toyModel(0), toyConfig(out, { steps: 2 }), toyDeps())).model.dispose();
            // The run continues from its checkpoint: the model it was given is replaced (and freed).
            return trainRl(toyModel(1), toyConfig(out, { steps: 4 }), { ...toyDeps(), resume: true });
          },
        ];
        const round = async () => {
          for (const run of kinds) (await run()).model.dispose(); // the caller frees the model it gets
        };
        await round(); // the first round grows the backend's scratch, staging and rope tables
        const before = be.memoryStats().inUse;
        await round();
        assert.equal(be.memoryStats().inUse, before);
      }),
    ),
  );

  it(
    "the study's theory checks free the model they check",
    withTmpDir((dir) =>
      withBackendAsync(be, async () => {
        const profile = {
          ...PROFILES.quick,
          rollout: { ...PROFILES.quick.rollout, max_new_tokens: 16 },
          theory: { prompts: 2, samples: 3 },
        };
        const check = () => updateTheory(dir, {}, [["base", "organism-base"]], profile, () => {});
        await check();
        const before = be.memoryStats().inUse;
        await check();
        assert.equal(be.memoryStats().inUse, before);
      }),
    ),
  );
});
