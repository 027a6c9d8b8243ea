// The CPU glue: calls into the wasm kernels, derived from the kernel table (engine/kernels.ts).
// For each chunked kernel it prepares, once, where every argument goes among the wasm parameters,
// how big each buffer must be, and which buffers are read (zeroed first if dirty) or overwritten.
// A call then fills one preallocated argument array: no allocation per call.
//
//   glue.run.rmsnormForward(chunks, y, rstd, x, w, rows, dim, eps)
//
// takes the kernel's arguments in table order (storages, Int32Arrays, numbers; the scratch
// argument is the bytes one thread needs) and returns false, having done nothing, when a storage
// is not in this memory: the caller then runs the TypeScript reference. `chunks` > 0 splits the
// call over the thread pool in that many pieces; 0 (SERIAL) runs it whole on the calling thread.

import {
  CHUNKED_KERNELS,
  type ChunkedKernelName,
  KERNELS,
  type KernelArg,
  type KernelArgs,
  type KernelSpec,
  type SizeExpr,
} from "../../../kernels.ts";
import type { CpuStorage } from "../backend.ts";
import type { WasmHeap } from "./allocator.ts";
import { callKernel, MAX_ARGS } from "./control-block.mjs";
import type { Kernels } from "./loader.ts";
import type { ThreadPool } from "./pool.ts";
import { WasmStorage } from "./storage.ts";

/** Run on the calling thread alone. */
export const SERIAL = 0;

export type KernelInvoker<K extends ChunkedKernelName> = (
  chunks: number,
  ...args: KernelArgs<K, CpuStorage>
) => boolean;
export type KernelInvokers = { readonly [K in ChunkedKernelName]: KernelInvoker<K> };

// Argument kinds as small integers (switches on them stay monomorphic).
const IN = 0;
const OUT = 1;
const ACC = 2;
const OUT_ACC = 3;
const INTS = 4;
const NUM = 5; // i32, f32 and const: numbers passed as they are
const SCRATCH = 6;
const KIND_CODE: Record<KernelArg["kind"], number> = {
  in: IN,
  out: OUT,
  acc: ACC,
  "out|acc": OUT_ACC,
  ints: INTS,
  const: NUM,
  i32: NUM,
  f32: NUM,
  scratch: SCRATCH,
};
/** Most arguments a caller passes (attentionBackward: 9 buffers, 6 scalars, scratch). */
const MAX_CALLER_ARGS = 16;

/** A size expression compiled to slots of the argument array: product of args[slots] times k. */
interface CompiledSize {
  slots: Int32Array;
  k: number;
  cond: number; // slot of the flag, or -1
  elseSlots: Int32Array;
  elseK: number;
}

function compileSize(e: SizeExpr, slotOf: (name: string) => number): CompiledSize {
  const part = (fs: readonly (string | number)[]) => ({
    slots: Int32Array.from(fs.filter((f) => typeof f === "string").map((f) => slotOf(f as string))),
    k: fs.reduce<number>((p, f) => (typeof f === "number" ? p * f : p), 1),
  });
  const main = part(e.factors);
  const other = part(e.otherwise ?? []);
  return {
    slots: main.slots,
    k: main.k,
    cond: e.cond ? slotOf(e.cond) : -1,
    elseSlots: other.slots,
    elseK: other.k,
  };
}

function evalSize(c: CompiledSize, args: Float64Array): number {
  const useElse = c.cond >= 0 && args[c.cond] === 0;
  const slots = useElse ? c.elseSlots : c.slots;
  let n = useElse ? c.elseK : c.k;
  for (let i = 0; i < slots.length; i++) n *= args[slots[i]];
  return n;
}

/** Byte offset of s, an input (or an output the kernel accumulates into): zeroed if dirty. */
function readPtr(s: WasmStorage): number {
  s.clean();
  return s.ptr;
}

/** Byte offset of s, an output the kernel overwrites at its first n floats. Taken after the
 *  inputs' readPtr: an output may alias an input. */
function writePtr(s: WasmStorage, n: number): number {
  if (s.size <= n) s.dirty = false;
  else s.clean();
  return s.ptr;
}

/** One kernel's prepared call. */
class KernelCall {
  readonly n: number;
  private readonly kind: Uint8Array;
  private readonly optional: Uint8Array;
  /** Position of each argument among the wasm parameters after (t, nt). */
  private readonly slot: Int32Array;
  private readonly size: (CompiledSize | null)[];
  /** Minimum sizes of this call's buffers (evaluated once per call). */
  private readonly need: Float64Array;
  /** The wasm arguments after (t, nt), filled per call. */
  readonly args: Float64Array;
  /** This call's storages and index arrays (cleared after the call). */
  private readonly refs: unknown[];
  private readonly accSlot: number;
  readonly scratchArg: number;

  constructor(
    readonly spec: KernelSpec,
    readonly index: number,
    private readonly f: (...a: number[]) => void,
    private readonly glue: WasmKernels,
  ) {
    const args = spec.args;
    this.n = args.length;
    if (this.n > MAX_CALLER_ARGS)
      throw new Error(`kernel ${spec.name}: more than ${MAX_CALLER_ARGS} arguments`);
    this.kind = Uint8Array.from(args, (a) => KIND_CODE[a.kind]);
    this.optional = Uint8Array.from(args, (a) => +a.optional);
    let pos = 0;
    this.slot = Int32Array.from(args, (a) => {
      const p = pos;
      pos += a.kind === "scratch" ? 2 : 1;
      return p;
    });
    if (pos > MAX_ARGS)
      throw new Error(`kernel ${spec.name}: ${pos} wasm arguments, the pool passes ${MAX_ARGS}`);
    const slotOf = (name: string) => this.slot[args.findIndex((a) => a.name === name)];
    this.size = args.map((a) => (a.size ? compileSize(a.size, slotOf) : null));
    this.need = new Float64Array(this.n);
    this.args = new Float64Array(pos);
    this.refs = new Array(this.n).fill(null);
    this.accSlot = args.some((a) => a.kind === "out|acc") ? slotOf("acc") : -1;
    const s = args.findIndex((a) => a.kind === "scratch");
    this.scratchArg = s >= 0 ? this.slot[s] : -1;
    if (args.filter((a) => a.kind === "ints").length > 1)
      throw new Error(`kernel ${spec.name}: the glue stages one index array per call`);
  }

  /** Fixed arity (no rest array): arguments past the kernel's own are undefined and unused. */
  invoke(
    chunks: number,
    a0?: unknown,
    a1?: unknown,
    a2?: unknown,
    a3?: unknown,
    a4?: unknown,
    a5?: unknown,
    a6?: unknown,
    a7?: unknown,
    a8?: unknown,
    a9?: unknown,
    a10?: unknown,
    a11?: unknown,
    a12?: unknown,
    a13?: unknown,
    a14?: unknown,
    a15?: unknown,
  ): boolean {
    const r = this.refs;
    r[0] = a0;
    r[1] = a1;
    r[2] = a2;
    r[3] = a3;
    r[4] = a4;
    r[5] = a5;
    r[6] = a6;
    r[7] = a7;
    r[8] = a8;
    r[9] = a9;
    r[10] = a10;
    r[11] = a11;
    r[12] = a12;
    r[13] = a13;
    r[14] = a14;
    r[15] = a15;
    try {
      if (!this.marshal()) return false;
      this.glue.dispatch(this, chunks);
      return true;
    } finally {
      r.fill(null);
    }
  }

  private marshal(): boolean {
    const { n, kind, slot, args, refs, glue, need } = this;
    // Scalars first (sizes are computed from them); storages must all be ours before anything changes.
    for (let i = 0; i < n; i++) {
      const v = refs[i];
      const k = kind[i];
      if (k === NUM) {
        if (typeof v !== "number") throw this.bad(i, "a number", v);
        args[slot[i]] = v;
      } else if (k === SCRATCH) {
        if (typeof v !== "number") throw this.bad(i, "scratch bytes", v);
      } else if (k === INTS) {
        if (!(v instanceof Int32Array)) throw this.bad(i, "an Int32Array", v);
      } else if (v === null || v === undefined) {
        if (!this.optional[i]) throw this.bad(i, "a storage", v);
      } else if (!glue.mine(v)) return false;
    }
    for (let i = 0; i < n; i++) {
      const c = this.size[i];
      if (!c) continue;
      const v = refs[i] as CpuStorage | Int32Array | null;
      if (!v) continue;
      const want = evalSize(c, args);
      need[i] = want;
      const have = v instanceof Int32Array ? v.length : v.size;
      if (have < want)
        throw new Error(
          `wasm backend: ${this.spec.name} ${this.spec.args[i].name} has ${have} ${kind[i] === INTS ? "ints" : "floats"}, needs ${want}`,
        );
    }
    const accumulate = this.accSlot >= 0 && args[this.accSlot] !== 0;
    // Buffers read (or accumulated into) first, zeroed if dirty; then the overwritten outputs.
    for (let i = 0; i < n; i++) {
      const k = kind[i];
      if (k === IN || k === ACC || (k === OUT_ACC && accumulate)) {
        const v = refs[i] as WasmStorage | null;
        args[slot[i]] = v ? readPtr(v) : 0;
      }
    }
    for (let i = 0; i < n; i++) {
      const k = kind[i];
      if (k === OUT || (k === OUT_ACC && !accumulate))
        args[slot[i]] = writePtr(refs[i] as WasmStorage, need[i]);
      else if (k === INTS) args[slot[i]] = glue.stageInts(refs[i] as Int32Array, need[i]);
      else if (k === SCRATCH) {
        args[slot[i]] = glue.scratch(refs[i] as number);
        args[slot[i] + 1] = glue.scratchStride;
      }
    }
    return true;
  }

  /** Calls the kernel whole on this thread (t = 0 of nt = 1). */
  callSerial(): void {
    callKernel(this.f, 0, 1, this.args);
  }

  get fn(): (...a: number[]) => void {
    return this.f;
  }

  private bad(i: number, want: string, v: unknown): Error {
    return new Error(
      `wasm backend: ${this.spec.name} argument ${this.spec.args[i].name} must be ${want}, got ${v}`,
    );
  }
}

/** The glue of one backend: its kernels' prepared calls, scratch, staged index arrays, dispatch. */
export class WasmKernels {
  /** Kernel calls split across the pool, run on the calling thread alone, and TS reference fallbacks. */
  readonly calls = { parallel: 0, serial: 0, reference: 0 };
  readonly run: KernelInvokers;
  /** Set to null when the backend stops its workers. */
  pool: ThreadPool | null = null;
  private scratchPtr = 0;
  private scratchCls = 0;
  scratchStride = 0;
  private intsPtr = 0;
  private intsCls = 0;
  private intsCap = 0;
  /** The whole memory as ints (remade after growth). */
  private i32View: Int32Array<ArrayBufferLike> = new Int32Array(0);

  constructor(
    exports: Kernels,
    private readonly heap: WasmHeap,
    /** The backend whose storages these kernels take. */
    private readonly owner: object,
    /** Threads the scratch is laid out for (1 + workers). */
    readonly threads: number,
  ) {
    const run: Record<string, unknown> = {};
    CHUNKED_KERNELS.forEach((name, i) => {
      const call = new KernelCall(KERNELS[name], i, exports[name], this);
      run[name] = call.invoke.bind(call);
    });
    this.run = run as unknown as KernelInvokers;
  }

  /** Whether s lives in this backend's memory (else the reference kernel runs on its data). */
  mine(s: unknown): s is WasmStorage {
    if (s instanceof WasmStorage && s.owner === this.owner) {
      if (s.freed) throw new Error("wasm backend: use of a freed storage");
      return true;
    }
    return false;
  }

  /** Per-thread scratch of at least `bytes`: its base (the stride is scratchStride). */
  scratch(bytes: number): number {
    const stride = Math.ceil((bytes + 64) / 64) * 64;
    if (stride > this.scratchStride) {
      if (this.scratchCls) this.heap.release(this.scratchPtr, this.scratchCls);
      const { ptr, cls } = this.heap.alloc(stride * this.threads);
      this.scratchPtr = ptr;
      this.scratchCls = cls;
      this.scratchStride = stride;
    }
    return this.scratchPtr;
  }

  /** Copies the first n ints of src into the memory (one staging block, grown on demand). */
  stageInts(src: Int32Array, n: number): number {
    if (n > this.intsCap) {
      if (this.intsCls) this.heap.release(this.intsPtr, this.intsCls);
      const cap = Math.max(256, 2 * n);
      const { ptr, cls } = this.heap.alloc(cap * 4);
      this.intsPtr = ptr;
      this.intsCls = cls;
      this.intsCap = cap;
    }
    if (this.i32View.buffer !== this.heap.buffer) this.i32View = new Int32Array(this.heap.buffer);
    const view = this.i32View;
    const off = this.intsPtr >> 2;
    if (n === src.length) view.set(src, off);
    else for (let i = 0; i < n; i++) view[off + i] = src[i];
    return this.intsPtr;
  }

  dispatch(call: KernelCall, chunks: number): void {
    if (chunks > 0 && this.pool) {
      this.calls.parallel++;
      this.pool.run(call.index, call.fn, call.args, chunks, call.scratchArg);
    } else {
      this.calls.serial++;
      call.callSerial();
    }
  }
}
