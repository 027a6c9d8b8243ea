// The wasm backend past 2 GiB of memory, where byte offsets no longer fit a signed 32-bit int.
// A long process reached it (the quick study's 11 runs and theory checks in one process grew the
// heap to 3.1 GiB, before runs freed their models and prefills their activations:
// memory-lifetime.test.ts); a larger model or batch still can. The host code once turned offsets into typed-array
// indices with `>> 2`, which goes negative there: index arrays failed to stage, and the fused
// decoder's plan and state were never written, so decodePack read garbage and trapped
// ("RuntimeError: unreachable": a negative weight number indexed its WEIGHTS table).
// The 2 GiB block below is reserved, never touched: it costs address space, not RAM.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { WasmBackend, type WasmStorage } from "../src/engine/backends/cpu/wasm-backend.ts";
import { loadModel } from "../src/model/checkpoint.ts";
import { type Sample, sample } from "../src/model/sample.ts";
import { withBackendAsync } from "./helpers/backend.ts";

const be = new WasmBackend({ threads: 2 });
after(() => be.dispose());

const prompts = Array.from({ length: 9 }, (_, b) =>
  Array.from({ length: 2 + ((b * 3) % 5) }, (_, i) => 2 + ((b * 7 + i * 5) % 27)),
);

const o = { maxNewTokens: 12, temperature: 1, stopTokens: [0], padToken: 1, seed: 5 };
const plain = (ss: Sample[]) => ss.map((s) => ({ ...s, logp: Array.from(s.logp) }));

/** An embedding lookup of n ids (staged into the memory by the glue), checked. */
function embed(n: number): void {
  const table = be.alloc(29 * 4);
  be.write(
    table,
    Float32Array.from({ length: 29 * 4 }, (_, i) => i),
  );
  const out = be.alloc(n * 4);
  const ids = Int32Array.from({ length: n }, (_, i) => (i * 7) % 29);
  be.embedding(out, table, ids, 4);
  assert.deepEqual(
    Array.from(out.data.subarray(4 * (n - 1), 4 * n)),
    [0, 1, 2, 3].map((j) => 4 * ids[n - 1] + j),
  );
  be.free(table);
  be.free(out);
}

describe("wasm backend above 2 GiB", () => {
  // The study's case: the index staging block was made early, below 2 GiB; the model and the
  // decoder's blocks come from above.
  it("decodes fused as op by op when the decoder's blocks lie past 2^31", async () => {
    await withBackendAsync(be, async () => {
      embed(64);
      be.alloc(2 ** 29); // kept: the heap's top moves past 2^31 bytes
      assert.ok(be.memoryStats().capacity > 2 ** 31);
      const model = loadModel(new URL("../models/organism-instruct", import.meta.url).pathname);
      assert.ok((model.embed.storage as WasmStorage).ptr >= 2 ** 31);
      const calls = () => be.calls.parallel + be.calls.serial;
      const c0 = calls();
      const ref = await sample(model, prompts, { ...o, fused: false });
      const c1 = calls();
      const fused = await sample(model, prompts, o);
      assert.ok(calls() - c1 < (c1 - c0) / 5, "the fused decoder did not run");
      assert.deepEqual(plain(fused), plain(ref));
    });
  });

  it("stages an index array past 2^31", async () => {
    await withBackendAsync(be, async () => {
      embed(4096); // more ids than staged so far: a new staging block, from above 2^31
    });
  });
});
