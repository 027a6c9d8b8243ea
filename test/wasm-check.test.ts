// RLIF_WASM_CHECK=1 (wasm/check.ts): a write into the module's static data is caught at the next
// kernel call, a pointer argument into it is refused before the call, and both errors name the
// kernel and its arguments; without the variable, calls are not checked.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { WasmBackend, WasmStorage } from "../src/engine/backends/cpu/wasm-backend.ts";

function backend(check: boolean, threads: number): WasmBackend {
  const was = process.env.RLIF_WASM_CHECK;
  if (check) process.env.RLIF_WASM_CHECK = "1";
  else delete process.env.RLIF_WASM_CHECK;
  try {
    return new WasmBackend({ threads });
  } finally {
    if (was === undefined) delete process.env.RLIF_WASM_CHECK;
    else process.env.RLIF_WASM_CHECK = was;
  }
}

const checked = backend(true, 2);
const plain = backend(false, 1);
after(() => {
  checked.dispose();
  plain.dispose();
});

/** decode.ts's WEIGHTS array: its length word, at the address the brief of the trap named. */
const STATIC_BYTE = 1292;

/** Runs fn with the static byte flipped (as a stray write would), restoring it after. */
function withStaticWrite(be: WasmBackend, fn: () => void): void {
  const bytes = new Uint8Array(be.memory.buffer);
  bytes[STATIC_BYTE] ^= 0xff;
  try {
    fn();
  } finally {
    bytes[STATIC_BYTE] ^= 0xff;
  }
}

function vectors(be: WasmBackend) {
  const y = be.alloc(64);
  const x = be.alloc(64);
  be.write(y, new Float32Array(64).fill(1));
  be.write(x, new Float32Array(64).fill(2));
  return { y, x };
}

describe("RLIF_WASM_CHECK", () => {
  it("passes ordinary calls, threaded ones included", () => {
    const { y, x } = vectors(checked);
    checked.axpy(y, x, 0.5);
    assert.equal(y.data[0], 2);
    const n = 1 << 18; // above the size at which elementwise ops are split over the pool
    const a = checked.alloc(n);
    const before = checked.calls.parallel;
    checked.unary("neg", a, a);
    assert.ok(checked.calls.parallel > before);
    assert.equal(checked.sumSquares(y), 64 * 4);
  });

  it("catches a JavaScript write into the static data at the next kernel call", () => {
    withStaticWrite(checked, () => {
      const { y, x } = vectors(checked);
      assert.throws(
        () => checked.axpy(y, x, 1),
        (e: Error) =>
          /static data \[0, \d+\) changed at bytes 1292\.\.1292/.test(e.message) &&
          /found after axpy\(y = \d+, x = \d+, alpha = 1, n = 64\)/.test(e.message),
      );
    });
    // Restored: calls pass again.
    const { y, x } = vectors(checked);
    checked.axpy(y, x, 1);
  });

  it("refuses a pointer argument into the static data, before the kernel writes there", () => {
    const before = new Uint8Array(checked.memory.buffer, 0, 2048).slice();
    // A storage whose offset points into the static data, as a bad offset computation would make.
    const bad = new WasmStorage(new Float32Array(checked.memory.buffer, 1280, 16), 1280, 64, checked, false);
    const x = checked.alloc(16);
    assert.throws(
      () => checked.affine(bad, x, 2, 3),
      /affine\(out = 1280, a = \d+, s = 2, u = 3, n = 16\): argument out = 1280 is not 0 and not inside the heap/,
    );
    assert.deepEqual(new Uint8Array(checked.memory.buffer, 0, 2048), before, "the kernel ran");
    // The exports the glue does not dispatch are checked too (decodeBegin writes its state block).
    const k = (checked as unknown as { k: { decodeBegin(s: number): number } }).k;
    assert.throws(() => k.decodeBegin(8), /decodeBegin\(state = 8\): argument state = 8 is not 0/);
  });

  it("is off without the variable: the same write goes unnoticed", () => {
    withStaticWrite(plain, () => {
      const { y, x } = vectors(plain);
      plain.axpy(y, x, 1);
      assert.equal(y.data[0], 3);
    });
  });
});
