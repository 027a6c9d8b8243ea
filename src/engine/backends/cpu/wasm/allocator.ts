// A size-class caching allocator over one shared WebAssembly.Memory.
//
// Training repeats the same tensor shapes every step, so freed blocks go to a free list per
// size class and the next allocation of that class reuses them: after the first step there is
// no growth and no garbage for the JS GC. Classes are 4 per power of two (at most 25% waste);
// blocks are 16-byte aligned (f32x4 loads). Fresh memory comes from a bump pointer; the memory
// grows when that runs out, and shared buffers never detach, so views made before a grow stay valid.

import type { WasmMemory } from "./loader.ts";

const PAGE = 65536;
const MIN_BLOCK = 64;

/** Bytes actually reserved for a request of `bytes`. */
export function sizeClass(bytes: number): number {
  if (bytes <= MIN_BLOCK) return MIN_BLOCK;
  const p = 2 ** Math.floor(Math.log2(bytes - 1)); // largest power of two below bytes
  const step = p / 4;
  return Math.ceil(bytes / step) * step;
}

export class WasmHeap {
  private top: number;
  private readonly freeLists = new Map<number, number[]>();
  private buf: SharedArrayBuffer;
  /** Bytes handed out and not yet returned (for tests and memory reports). */
  inUse = 0;

  constructor(
    readonly memory: WasmMemory,
    base: number,
  ) {
    this.top = Math.ceil(base / 16) * 16;
    this.buf = memory.buffer as SharedArrayBuffer;
  }

  /** The current buffer (a new object after each grow; older ones stay valid for their length). */
  get buffer(): SharedArrayBuffer {
    return this.buf;
  }

  /** Byte size of the memory. */
  get capacity(): number {
    return this.buf.byteLength;
  }

  /** Reserve a block of at least `bytes`: its byte offset, size class, and whether it is fresh
   *  memory (never handed out before, hence still zero) rather than a reused block. */
  alloc(bytes: number): { ptr: number; cls: number; fresh: boolean } {
    let cls = sizeClass(bytes);
    let ptr = this.freeLists.get(cls)?.pop();
    if (ptr === undefined) {
      // Before growing, reuse a free block of a larger class (at most twice the size): shapes
      // that vary from step to step (RL batches) otherwise strand freed memory in other classes
      // and a long process (a whole study) grows without bound.
      let best = 0;
      for (const [c, list] of this.freeLists)
        if (c > cls && c <= 2 * cls && list.length > 0 && (best === 0 || c < best)) best = c;
      if (best) {
        ptr = this.freeLists.get(best)!.pop();
        cls = best;
      }
    }
    const fresh = ptr === undefined;
    if (ptr === undefined) {
      ptr = this.top;
      const end = ptr + cls;
      if (end > this.buf.byteLength) this.grow(end);
      this.top = end;
    }
    this.inUse += cls;
    return { ptr, cls, fresh };
  }

  release(ptr: number, cls: number): void {
    let list = this.freeLists.get(cls);
    if (!list) {
      list = [];
      this.freeLists.set(cls, list);
    }
    list.push(ptr);
    this.inUse -= cls;
  }

  private grow(end: number): void {
    // Grow by at least half the current size: few grows, amortised.
    const need = Math.ceil((end - this.buf.byteLength) / PAGE);
    const pages = Math.max(need, Math.ceil(this.buf.byteLength / PAGE / 2));
    try {
      this.memory.grow(pages);
    } catch {
      try {
        this.memory.grow(need);
      } catch (e) {
        throw new Error(
          `wasm backend: out of memory growing to ${Math.ceil(end / 2 ** 20)} MiB (${(e as Error).message})`,
        );
      }
    }
    this.buf = this.memory.buffer as SharedArrayBuffer;
  }
}
