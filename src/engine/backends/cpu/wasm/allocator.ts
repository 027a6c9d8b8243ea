// A size-class caching allocator over one shared WebAssembly.Memory.
//
// Training repeats the same tensor shapes every step, so freed blocks go to a free list per
// size class and the next allocation of that class reuses them: after the first step there is
// no growth and no garbage for the JS GC. Classes are 4 per power of two (at most 25% waste);
// blocks are 16-byte aligned (f32x4 loads). Fresh memory comes from a bump pointer; the memory
// grows when that runs out, and shared buffers never detach, so views made before a grow stay valid.
// A request no free block of its class serves is cut from a larger free block, merging adjacent
// free blocks when none is large enough, before the bump pointer moves: the memory follows the peak
// of live bytes rather than the sum of each size class's peak.

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
  /** Everything at or above this offset has never been handed out (still zero). */
  private untouched: number;
  private readonly base: number;
  private readonly freeLists = new Map<number, number[]>();
  /** Whether a block was freed since the last merge (else merging again finds nothing new). */
  private releasedSinceMerge = false;
  private buf: SharedArrayBuffer;
  /** Bytes handed out and not yet returned (for tests and memory reports). */
  inUse = 0;
  /** The most bytes in use at once (since the heap was made or the peak was last reset). */
  peak = 0;

  constructor(
    readonly memory: WasmMemory,
    base: number,
  ) {
    this.base = this.top = this.untouched = Math.ceil(base / 16) * 16;
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
      // No free block of this class: cut it from the smallest free block that holds it, else
      // merge neighbouring free blocks and try again, before taking fresh memory. Shapes that vary
      // from step to step (RL batches, evaluation prompts) otherwise strand freed memory in other
      // classes, and each peak of a long process (a whole study) grows the memory, which never shrinks.
      let size = this.smallestFree(cls);
      if (!size && this.releasedSinceMerge && this.freeBytes >= cls) {
        this.coalesce();
        size = this.smallestFree(cls);
      }
      if (size) {
        const list = this.freeLists.get(size)!;
        ptr = list.pop()!;
        if (!list.length) this.freeLists.delete(size); // split-off sizes would pile up
        // The rest stays free (a sliver too small for any block goes along).
        if (size - cls >= MIN_BLOCK) this.addFree(ptr + cls, size - cls);
        else cls = size;
      }
    }
    if (ptr === undefined) {
      ptr = this.top;
      const end = ptr + cls;
      if (end > this.buf.byteLength) this.grow(end);
      this.top = end;
    }
    const fresh = ptr >= this.untouched;
    this.untouched = Math.max(this.untouched, ptr + cls);
    this.inUse += cls;
    if (this.inUse > this.peak) this.peak = this.inUse;
    return { ptr, cls, fresh };
  }

  /** Bytes in free blocks (below the bump pointer, not handed out). */
  get freeBytes(): number {
    return this.top - this.base - this.inUse;
  }

  release(ptr: number, cls: number): void {
    this.releasedSinceMerge = true;
    this.addFree(ptr, cls);
    this.inUse -= cls;
  }

  private addFree(ptr: number, size: number): void {
    let list = this.freeLists.get(size);
    if (!list) {
      list = [];
      this.freeLists.set(size, list);
    }
    list.push(ptr);
  }

  /** The smallest size of at least `bytes` with a free block (0: none). */
  private smallestFree(bytes: number): number {
    let best = 0;
    for (const [c, list] of this.freeLists)
      if (c >= bytes && list.length > 0 && (best === 0 || c < best)) best = c;
    return best;
  }

  /** Merges adjacent free blocks; a free run that ends at the bump pointer lowers it instead. */
  private coalesce(): void {
    this.releasedSinceMerge = false;
    const blocks: [number, number][] = [];
    for (const [size, list] of this.freeLists) for (const p of list) blocks.push([p, size]);
    this.freeLists.clear();
    blocks.sort((a, b) => a[0] - b[0]);
    const runs: [number, number][] = [];
    for (const [p, size] of blocks) {
      const last = runs[runs.length - 1];
      if (last && last[0] + last[1] === p) last[1] += size;
      else runs.push([p, size]);
    }
    const last = runs[runs.length - 1];
    if (last && last[0] + last[1] === this.top) {
      this.top = last[0];
      runs.pop();
    }
    for (const [p, size] of runs) this.addFree(p, size);
  }

  private grow(end: number): void {
    // Grow by at least a quarter of the current size: few grows, amortised, and not much
    // memory past the peak.
    const need = Math.ceil((end - this.buf.byteLength) / PAGE);
    const pages = Math.max(need, Math.ceil(this.buf.byteLength / PAGE / 4));
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
