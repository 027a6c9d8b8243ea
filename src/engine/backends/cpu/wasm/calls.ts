// The CPU glue: calls into the wasm kernels, derived from the kernel table (engine/kernels.ts).
// For each chunked kernel it generates, once, a straight-line function from the kernel's table
// entry (callSource): where every argument goes among the wasm parameters, how big each buffer
// must be, and which buffers are read (zeroed first if dirty) or overwritten. A call then fills
// one preallocated argument array: no allocation per call.
//
//   glue.run.rmsnormForward(chunks, y, rstd, x, w, rows, dim, eps)
//
// takes the kernel's arguments in table order (storages, Int32Arrays, numbers; the scratch
// argument is the bytes one thread needs) and returns false, having done nothing, when a storage
// is not in this memory: the caller then runs the TypeScript reference. `chunks` > 0 splits the
// call over the thread pool in that many pieces; 0 (SERIAL) runs it whole on the calling thread.

import {
  type ArgKind,
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
import { pointerSlots, type StaticGuard } from "./check.ts";
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

/** Most arguments a caller passes (attentionBackward: 9 buffers, 6 scalars, scratch). */
const MAX_CALLER_ARGS = 16;

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

/** Arguments passed through as numbers: scalars, and offsets of blocks the backend owns. */
const SCALAR_KINDS = new Set<ArgKind>(["i32", "f32", "const", "block"]);

const isBuffer = (a: KernelArg) =>
  a.kind === "in" || a.kind === "out" || a.kind === "acc" || a.kind === "out|acc";

function sizeCode(e: SizeExpr): string {
  const prod = (fs: readonly (string | number)[]) =>
    fs.length ? fs.map((f) => (typeof f === "number" ? String(f) : `a_${f}`)).join(" * ") : "1";
  return e.cond ? `(a_${e.cond} !== 0 ? ${prod(e.factors)} : ${prod(e.otherwise ?? [])})` : prod(e.factors);
}

/** The source of one kernel's call, derived from its table entry: straight-line code, so that a
 *  call costs what a hand-written one would (an interpreter over the table was slower on small ops).
 *  Order: check the arguments' kinds; return false if a storage is not ours; check sizes; take the
 *  read buffers' offsets (zeroing dirty ones), then the scalars, the overwritten outputs, the
 *  staged index array and the scratch; dispatch. */
export function callSource(spec: KernelSpec): string {
  const args = spec.args;
  const slot: number[] = [];
  let pos = 0;
  for (const a of args) {
    slot.push(pos);
    pos += a.kind === "scratch" ? 2 : 1;
  }
  const v = (a: KernelArg) => `a_${a.name}`;
  const L: string[] = [];
  args.forEach((a, i) => {
    if (SCALAR_KINDS.has(a.kind) || a.kind === "scratch")
      L.push(`if (typeof ${v(a)} !== "number") throw bad(${i}, "a number", ${v(a)});`);
    else if (a.kind === "ints")
      L.push(`if (!(${v(a)} instanceof Int32Array)) throw bad(${i}, "an Int32Array", ${v(a)});`);
    else if (!a.optional) L.push(`if (${v(a)} == null) throw bad(${i}, "a storage", ${v(a)});`);
  });
  const owned = args
    .filter(isBuffer)
    .map((a) => (a.optional ? `(${v(a)} !== null && !glue.mine(${v(a)}))` : `!glue.mine(${v(a)})`));
  if (owned.length) L.push(`if (${owned.join(" || ")}) return false;`);
  args.forEach((a, i) => {
    if (!a.size) return;
    const have = a.kind === "ints" ? `${v(a)}.length` : `${v(a)}.size`;
    L.push(`const n_${a.name} = ${sizeCode(a.size)};`);
    const check = `if (${have} < n_${a.name}) throw small(${i}, ${have}, n_${a.name});`;
    L.push(a.optional ? `if (${v(a)} !== null) ${check}` : check);
  });
  const acc = args.some((a) => a.kind === "out|acc");
  if (acc) L.push("const accumulate = a_acc !== 0;");
  args.forEach((a, i) => {
    const read = a.optional ? `${v(a)} === null ? 0 : readPtr(${v(a)})` : `readPtr(${v(a)})`;
    if (a.kind === "in" || a.kind === "acc") L.push(`args[${slot[i]}] = ${read};`);
    else if (a.kind === "out|acc") L.push(`if (accumulate) args[${slot[i]}] = ${read};`);
  });
  args.forEach((a, i) => {
    const s = slot[i];
    if (SCALAR_KINDS.has(a.kind)) L.push(`args[${s}] = ${v(a)};`);
    else if (a.kind === "out") L.push(`args[${s}] = writePtr(${v(a)}, n_${a.name});`);
    else if (a.kind === "out|acc") L.push(`if (!accumulate) args[${s}] = writePtr(${v(a)}, n_${a.name});`);
    else if (a.kind === "ints") L.push(`args[${s}] = glue.stageInts(${v(a)}, n_${a.name});`);
    else if (a.kind === "scratch") {
      L.push(`args[${s}] = glue.scratch(${v(a)});`);
      L.push(`args[${s + 1}] = glue.scratchStride;`);
    }
  });
  L.push("glue.dispatch(call, chunks);", "return true;");
  const params = ["chunks", ...args.map(v)].join(", ");
  return `return function ${spec.name}(${params}) {\n  ${L.join("\n  ")}\n};`;
}

/** One kernel's prepared call: its wasm function, its argument array, and the generated invoker. */
class KernelCall {
  /** The wasm arguments after (t, nt), filled per call; full length because callKernel reads
   *  all MAX_ARGS slots. */
  readonly args = new Float64Array(MAX_ARGS);
  readonly scratchArg: number;
  /** The argument slots that hold byte offsets (for RLIF_WASM_CHECK). */
  readonly pointerSlots: readonly number[];
  readonly invoke: (chunks: number, ...a: unknown[]) => boolean;

  constructor(
    readonly spec: KernelSpec,
    readonly index: number,
    readonly fn: (...a: number[]) => void,
    glue: WasmKernels,
  ) {
    const n = spec.args.reduce((k, a) => k + (a.kind === "scratch" ? 2 : 1), 0);
    if (spec.args.length > MAX_CALLER_ARGS || n > MAX_ARGS)
      throw new Error(`kernel ${spec.name}: ${n} wasm arguments, the pool passes ${MAX_ARGS}`);
    if (spec.args.filter((a) => a.kind === "ints").length > 1)
      throw new Error(`kernel ${spec.name}: the glue stages one index array per call`);
    let pos = 0;
    let scratch = -1;
    for (const a of spec.args) {
      if (a.kind === "scratch") scratch = pos;
      pos += a.kind === "scratch" ? 2 : 1;
    }
    this.scratchArg = scratch;
    this.pointerSlots = pointerSlots(spec);
    const bad = (i: number, want: string, got: unknown) =>
      new Error(`wasm backend: ${spec.name} argument ${spec.args[i].name} must be ${want}, got ${got}`);
    const small = (i: number, have: number, want: number) =>
      new Error(
        `wasm backend: ${spec.name} ${spec.args[i].name} has ${have} ${spec.args[i].kind === "ints" ? "ints" : "floats"}, needs ${want}`,
      );
    // The table is this module's own constant, parsed and checked: the source is built from
    // identifiers that parseKernel accepted (\w+), never from caller data.
    const make = new Function(
      "glue",
      "call",
      "args",
      "readPtr",
      "writePtr",
      "bad",
      "small",
      callSource(spec),
    );
    this.invoke = make(glue, this, this.args, readPtr, writePtr, bad, small);
  }

  /** Calls the kernel whole on this thread (t = 0 of nt = 1). */
  callSerial(): void {
    callKernel(this.fn, 0, 1, this.args);
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
    /** RLIF_WASM_CHECK's guard (check.ts), or null: then dispatch is the plain one. */
    guard: StaticGuard | null = null,
  ) {
    if (guard)
      this.dispatch = (call, chunks) => {
        const { spec, args } = call;
        guard.checkPointers(spec.name, spec, call.pointerSlots, args);
        WasmKernels.prototype.dispatch.call(this, call, chunks);
        guard.checkStatic(spec.name, spec, args);
      };
    const run: Record<string, unknown> = {};
    CHUNKED_KERNELS.forEach((name, i) => {
      run[name] = new KernelCall(KERNELS[name], i, exports[name], this).invoke;
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
    // Unsigned: offsets past 2 GiB are negative as int32, and a negative typed-array index
    // is silently dropped (or throws, in set()).
    const off = this.intsPtr >>> 2;
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
