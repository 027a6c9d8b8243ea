// A storage of the wasm backend: a Float32Array view into the one shared memory, with lazy zeroing.

import type { FloatArray } from "../../../backend.ts";
import type { CpuStorage } from "../backend.ts";

/** A storage in the backend's memory: `ptr` is its byte offset, `cls` its block size class.
 *  It has CpuStorage's shape (`data`, a Float32Array view, and `size`), so the TypeScript
 *  reference kernels run on it unchanged; it is not a subclass because `data` is an accessor.
 *
 *  Zero-filling is lazy. A reused block is `dirty` (its logical value is all zeros, its bytes are
 *  whatever was there): reading `data` zeroes it first, and so does every kernel that reads or
 *  accumulates into it, but a kernel that overwrites the whole storage just clears the flag.
 *  Most op outputs are overwritten, so training steps skip most of the memset traffic
 *  (measured: zero-filling every allocation took ~20% of a training step). */
export class WasmStorage implements CpuStorage {
  freed = false;
  constructor(
    /** The raw view: no zeroing on access (backend-internal). */
    readonly view: Float32Array,
    readonly ptr: number,
    readonly cls: number,
    /** The backend whose memory holds it. */
    readonly owner: object,
    public dirty: boolean,
  ) {}
  get data(): Float32Array {
    return this.clean();
  }
  set data(_v: FloatArray) {
    throw new Error("wasm backend: a storage's data view cannot be replaced");
  }
  get size(): number {
    return this.view.length;
  }
  /** The view, zeroed first if it is dirty. */
  clean(): Float32Array {
    if (this.dirty) {
      this.view.fill(0);
      this.dirty = false;
    }
    return this.view;
  }
}
