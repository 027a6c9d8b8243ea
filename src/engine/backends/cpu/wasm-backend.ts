// The fast CPU backend: storages in one shared WebAssembly.Memory, ops run by WebAssembly SIMD
// kernels (wasm/assembly), split over a worker-thread pool when they are big enough. Calls into
// the kernels are derived from the kernel table (engine/kernels.ts) by wasm/calls.ts. Where an op
// runs is explicit: every op below either calls a kernel or the TypeScript reference (`ref`, the
// CpuBackend, which works on these storages because each `data` is an ordinary Float32Array view),
// and WASM_ROUTES lists the cases; `rlif info --backend` prints them.

import { availableParallelism } from "node:os";
import type {
  AdamWStep,
  AttentionGrads,
  AttentionShape,
  Backend,
  BinaryOp,
  DecodeRequest,
  DecodeResult,
  DecoderPlan,
  FloatArray,
  MatmulShape,
  RopeScaling,
  RopeShape,
  UnaryOp,
} from "../../backend.ts";
import { CHUNKED_KERNELS } from "../../kernels.ts";
import type { RouteTable } from "../../routes.ts";
import { CpuBackend, type CpuStorage } from "./backend.ts";
import { ropeInvFreq } from "./reference.ts";
import { WasmHeap } from "./wasm/allocator.ts";
import { type KernelInvokers, SERIAL, WasmKernels } from "./wasm/calls.ts";
import { StaticGuard, wasmCheckEnabled } from "./wasm/check.ts";
import { type DecoderHost, decode, unsupported } from "./wasm/decoder.ts";
import { instantiate, type Kernels, loadKernelModule, type WasmMemory, wasmApi } from "./wasm/loader.ts";
import { CTRL_BYTES, ThreadPool } from "./wasm/pool.ts";
import { WasmStorage } from "./wasm/storage.ts";

export { WasmStorage } from "./wasm/storage.ts";

export interface WasmBackendOptions {
  /** Kernel threads including the caller; default min(available cores, RLIF_THREADS or 2). */
  threads?: number;
  /** Initial memory in MiB (it grows on demand). */
  initialMiB?: number;
}

// Below these sizes, waking a worker (about 10-25 us for a round trip) costs more than the share
// of work it takes over: matmul/attention in flops; memory-bound elementwise ops (~0.15 ms per
// million floats on one thread) in elements; ops that evaluate exp per element in elements.
const MIN_PARALLEL_FLOPS = 1 << 22;
const MIN_PARALLEL_ELEMENTS = 1 << 18;
const MIN_PARALLEL_EXP = 1 << 15;

type S = CpuStorage;

// Op codes of the wasm kernels, in the order of the unions in backend.ts.
const BINARY_CODE: Record<BinaryOp, number> = { add: 0, sub: 1, mul: 2, div: 3, min: 4, max: 5 };
const UNARY_CODE: Record<UnaryOp, number> = {
  neg: 0,
  exp: 1,
  log: 2,
  square: 3,
  sqrt: 4,
  relu: 5,
  sigmoid: 6,
  silu: 7,
  abs: 8,
};
/** Largest position the rotary cos/sin table covers; beyond it rope runs the reference. */
const MAX_ROPE_POSITION = 1 << 20;

const EL = `n ≥ ${MIN_PARALLEL_ELEMENTS} elements`;
const EXP = `n ≥ ${MIN_PARALLEL_EXP} elements`;
/** Where each op runs on this backend, in the order the code below checks the cases. Besides
 *  these, any op given a storage that is not in this backend's memory runs the TS reference. */
export const WASM_ROUTES: RouteTable = {
  unary: [
    { runs: "reference", when: "op = log" },
    { runs: "wasm", kernel: "unary", when: "otherwise", threaded: `${EL} (exp, sigmoid, silu, abs: ${EXP})` },
  ],
  unaryBackward: [
    { runs: "wasm", kernel: "unaryBackward", when: "always", threaded: `${EL} (silu: ${EXP})` },
  ],
  binary: [
    { runs: "reference", when: "a or b smaller than out (b not a scalar)" },
    { runs: "wasm", kernel: "binary", when: "otherwise", threaded: EL },
  ],
  binaryBackward: [
    { runs: "reference", when: "b is a broadcast scalar (its gradient is a reduction)" },
    { runs: "wasm", kernel: "binaryBackward", when: "otherwise", threaded: EL },
  ],
  clamp: [{ runs: "reference", when: "always (no kernel)" }],
  clampBackward: [{ runs: "reference", when: "always (no kernel)" }],
  affine: [{ runs: "wasm", kernel: "affine", when: "always", threaded: EL }],
  axpy: [{ runs: "wasm", kernel: "axpy", when: "always", threaded: EL }],
  sum: [
    { runs: "wasm", kernel: "sumAll", when: "whole tensor (one thread)" },
    { runs: "wasm", kernel: "sumRows", when: "per row", threaded: `rows > 1 and ${EL}` },
  ],
  sumRowsAcc: [{ runs: "wasm", kernel: "sumRowsAcc", when: "always", threaded: EL }],
  addRowVector: [{ runs: "wasm", kernel: "addRowVector", when: "always", threaded: `rows > 1 and ${EL}` }],
  broadcastRows: [{ runs: "wasm", kernel: "broadcastRows", when: "always", threaded: `rows > 1 and ${EL}` }],
  sumSquares: [{ runs: "wasm", kernel: "sumSquares", when: "always (one thread)" }],
  matmul: [
    { runs: "wasm", kernel: "matmul", when: "always", threaded: `2·M·N·K ≥ ${MIN_PARALLEL_FLOPS} flops` },
  ],
  embedding: [{ runs: "wasm", kernel: "embedding", when: "always", threaded: `ids > 1 and ${EL}` }],
  embeddingBackward: [{ runs: "wasm", kernel: "embeddingBackward", when: "always (one thread)" }],
  rmsnorm: [{ runs: "wasm", kernel: "rmsnormForward", when: "always", threaded: `rows > 1 and ${EL}` }],
  rmsnormBackward: [{ runs: "wasm", kernel: "rmsnormBackward", when: "always", threaded: EL }],
  rope: [
    {
      runs: "reference",
      when: `D % 8 ≠ 0, a negative position or one above ${MAX_ROPE_POSITION}, or fewer positions than rows`,
    },
    { runs: "wasm", kernel: "rope", when: "otherwise", threaded: `rows > 1 and ${EL}` },
  ],
  attention: [
    { runs: "reference", when: "D % 4 ≠ 0 or Hq % Hkv ≠ 0" },
    {
      runs: "wasm",
      kernel: "attentionDecode",
      when: "Tq = 1",
      threaded: `B·Hq > 1 and ≥ ${MIN_PARALLEL_FLOPS / 4} flops`,
    },
    {
      runs: "wasm",
      kernel: "attentionForward",
      when: "otherwise",
      threaded: `B·Hkv > 1 and ≥ ${MIN_PARALLEL_FLOPS} flops`,
    },
  ],
  attentionBackward: [
    { runs: "reference", when: "D % 4 ≠ 0, Hq % Hkv ≠ 0 or Tq ≠ Tk" },
    {
      runs: "wasm",
      kernel: "attentionBackward",
      when: "otherwise",
      threaded: `B·Hkv > 1 and ≥ ${MIN_PARALLEL_FLOPS} flops`,
    },
  ],
  swiglu: [{ runs: "wasm", kernel: "swigluForward", when: "always", threaded: EXP }],
  swigluBackward: [{ runs: "wasm", kernel: "swigluBackward", when: "always", threaded: EXP }],
  tokenStats: [
    {
      runs: "wasm",
      kernel: "tokenStatsForward",
      when: "always",
      threaded: `N > 1 and N·V ≥ ${MIN_PARALLEL_EXP}`,
    },
  ],
  tokenStatsBackward: [
    {
      runs: "wasm",
      kernel: "tokenStatsBackward",
      when: "always",
      threaded: `N > 1 and N·V ≥ ${MIN_PARALLEL_EXP}`,
    },
  ],
  adamw: [{ runs: "wasm", kernel: "adamw", when: "always", threaded: EL }],
  decode: [
    {
      runs: "reference",
      when: "head size not a multiple of 8, Hq % Hkv ≠ 0, or top-k / top-p sampling (model/sample.ts runs op by op)",
    },
    {
      runs: "wasm",
      kernel: "decodeStep",
      when: "otherwise: one call per token for the whole model, statistics and draw",
      threaded: "more than 4 sequences running (split by sequence)",
    },
  ],
};

interface RopeTable {
  cos: number;
  sin: number;
  cls: number;
  positions: number;
}

function defaultThreads(): number {
  const env = Number.parseInt(process.env.RLIF_THREADS ?? "", 10);
  return Math.max(1, Math.min(availableParallelism(), Number.isFinite(env) && env > 0 ? env : 2));
}

export class WasmBackend implements Backend<CpuStorage> {
  readonly name: string;
  readonly dtype = "f32";
  readonly routes = WASM_ROUTES;
  readonly threads: number;
  /** Whether the fused multiply-add (relaxed SIMD) build of the kernels is in use. */
  readonly relaxed: boolean;
  readonly memory: WasmMemory;
  private readonly heap: WasmHeap;
  private readonly k: Kernels;
  private readonly glue: WasmKernels;
  /** The kernels, called with their arguments in table order (wasm/calls.ts). */
  private readonly run: KernelInvokers;
  /** The TypeScript reference kernels, on these same storages. */
  private readonly ref = new CpuBackend("f32");
  private readonly ropeTables = new Map<string, RopeTable>();

  constructor(opts: WasmBackendOptions = {}) {
    const threads = Math.max(1, Math.floor(opts.threads ?? defaultThreads()));
    const { module, relaxed } = loadKernelModule();
    const initialPages = Math.max(2, Math.ceil(((opts.initialMiB ?? 16) * 2 ** 20) / 65536));
    this.memory = new wasmApi.Memory({ initial: initialPages, maximum: 65536, shared: true });
    const exports = instantiate(module, this.memory);
    // RLIF_WASM_CHECK=1: every kernel call checked against stray writes to the static data.
    const guard = wasmCheckEnabled() ? new StaticGuard(this.memory, exports.heapBase()) : null;
    this.k = guard ? guard.wrapExports(exports) : exports;
    this.heap = new WasmHeap(this.memory, Math.max(1024, exports.heapBase()));
    this.relaxed = relaxed;
    const ctrl = this.heap.alloc(CTRL_BYTES).ptr;
    let pool: ThreadPool | null = null;
    if (threads > 1) {
      try {
        pool = new ThreadPool(CHUNKED_KERNELS, module, this.memory, ctrl, threads);
      } catch (e) {
        // Kernels still run, on this thread: slower, never wrong.
        process.emitWarning(
          `wasm backend: no worker threads (${(e as Error).message}); running on one thread`,
        );
      }
    }
    this.threads = pool ? threads : 1;
    this.glue = new WasmKernels(exports, this.heap, this, this.threads, guard);
    this.glue.pool = pool;
    this.run = this.glue.run;
    this.name = `wasm-simd${relaxed ? "-fma" : ""}-x${this.threads}`;
  }

  /** Kernel calls split across the pool, run on the calling thread alone, and ops that ran the
   *  TypeScript reference. */
  get calls(): { parallel: number; serial: number; reference: number } {
    return this.glue.calls;
  }

  /** Stops the worker threads. Storages stay readable; kernels then run on the calling thread. */
  dispose(): void {
    this.glue.pool?.dispose();
    this.glue.pool = null;
  }

  /** Chunks of parallel kernels run by the worker threads (the rest ran on the calling thread). */
  get workerChunks(): number {
    return this.glue.pool?.workerChunks ?? 0;
  }

  /** Bytes of the shared memory (it never shrinks), bytes in live blocks (storages, scratch,
   *  caches), and the most bytes live at once since the last resetMemoryPeak(). */
  memoryStats(): { capacity: number; inUse: number; peak: number } {
    return { capacity: this.heap.capacity, inUse: this.heap.inUse, peak: this.heap.peak };
  }

  /** Starts measuring memoryStats().peak from the bytes live now. */
  resetMemoryPeak(): void {
    this.heap.peak = this.heap.inUse;
  }

  /** The reference backend, counted (every fallback goes through here). */
  private reference(): CpuBackend {
    this.glue.calls.reference++;
    return this.ref;
  }

  // ------------------------------------------------------------------ fused decoding
  decode(plan: DecoderPlan<S>, request: DecodeRequest<S>): DecodeResult | null {
    const host = this.decoderHost();
    if (unsupported(plan, host) !== null) return null;
    return decode(host, plan, request);
  }

  private host: DecoderHost | null = null;
  private decoderHost(): DecoderHost {
    this.host ??= {
      exports: this.k,
      heap: this.heap,
      run: this.run,
      threads: this.threads,
      mine: (s: unknown): s is WasmStorage => this.glue.mine(s),
      ropeTable: (D, theta, maxPos, scaling) => this.ropeTable(D, theta, maxPos, scaling),
      split: (parallel, chunks) => this.split(parallel, chunks),
    };
    return this.host;
  }

  /** Pool chunks for a call: `chunks` when it is worth splitting, else SERIAL. */
  private split(parallel: boolean, chunks = 4 * this.threads): number {
    return parallel ? Math.max(1, chunks) : SERIAL;
  }

  // ------------------------------------------------------------------ storage
  alloc(size: number): S {
    if (!Number.isInteger(size) || size < 0)
      throw new Error(`wasm backend: invalid allocation of ${size} floats`);
    const { ptr, cls, fresh } = this.heap.alloc(Math.max(1, size) * 4);
    return new WasmStorage(new Float32Array(this.heap.buffer, ptr, size), ptr, cls, this, !fresh);
  }

  free(s: S): void {
    if (!(s instanceof WasmStorage) || s.owner !== this) return; // not ours: the GC owns it
    if (s.freed) throw new Error("wasm backend: storage freed twice");
    s.freed = true;
    this.heap.release(s.ptr, s.cls);
  }

  async read(s: S): Promise<FloatArray> {
    return s.data;
  }

  readSync(s: S): FloatArray {
    return s.data;
  }

  fill(s: S, value: number): void {
    if (this.glue.mine(s)) {
      s.dirty = false;
      s.view.fill(value);
    } else this.ref.fill(s, value);
  }

  write(s: S, data: ArrayLike<number>, offset = 0): void {
    if (this.glue.mine(s) && offset === 0 && data.length === s.size) {
      s.view.set(data); // all of it: no need to zero first
      s.dirty = false;
    } else this.ref.write(s, data, offset);
  }

  copy(dst: S, src: S, n = src.size, dstOff = 0, srcOff = 0): void {
    if (!this.glue.mine(dst) || !this.glue.mine(src)) {
      this.ref.copy(dst, src, n, dstOff, srcOff);
      return;
    }
    if (n < 0 || srcOff < 0 || dstOff < 0 || srcOff + n > src.size || dstOff + n > dst.size)
      throw new RangeError(`copy of ${n} floats from ${srcOff} of ${src.size} to ${dstOff} of ${dst.size}`);
    // One native move inside the memory: the KV cache takes many small copies per decoding step.
    src.clean();
    const s0 = src.ptr / 4 + srcOff;
    if (dstOff === 0 && n >= dst.size) dst.dirty = false;
    else dst.clean();
    const d0 = dst.ptr / 4 + dstOff;
    this.all().copyWithin(d0, s0, s0 + n);
  }

  private allView: Float32Array | null = null;
  /** A view over the whole memory (remade after growth). */
  private all(): Float32Array {
    const buf = this.heap.buffer;
    if (this.allView?.buffer !== buf) this.allView = new Float32Array(buf);
    return this.allView;
  }

  // ------------------------------------------------------------------ kernels
  // Each op: the cases WASM_ROUTES lists as reference first, then the kernel call; a kernel call
  // returns false (having done nothing) when a storage is not in this memory.
  matmul(C: S, A: S, B: S, sh: MatmulShape): void {
    const { M, N, K, transA = false, transB = false, accumulate = false } = sh;
    if (M === 0 || N === 0) return;
    // Chunks of at least 16 blocks (4 x 8 tiles) each: every chunk packs its own panels.
    const blocks = Math.max(Math.ceil(M / 4), Math.ceil(N / 8));
    const chunks = Math.min(4 * this.threads, Math.max(this.threads, Math.floor(blocks / 16)));
    const split = this.split(2 * M * N * K >= MIN_PARALLEL_FLOPS, chunks);
    const scratch = this.k.matmulScratchBytes();
    if (!this.run.matmul(split, C, A, B, M, N, K, +transA, +transB, +accumulate, scratch))
      this.reference().matmul(C, A, B, sh);
  }

  attention(out: S, lse: S, q: S, k: S, v: S, sh: AttentionShape, pos0: Int32Array, scale: number): void {
    const { B, Tq, Tk, Hq, Hkv, D } = sh;
    if (D % 4 !== 0 || Hq % Hkv !== 0) {
      this.reference().attention(out, lse, q, k, v, sh, pos0, scale);
      return;
    }
    if (pos0.length < B) throw new Error(`attention: ${pos0.length} start positions for ${B} sequences`);
    for (let b = 0; b < B; b++)
      if (pos0[b] < 0 || pos0[b] + Tq > Tk)
        throw new Error(`attention: sequence ${b} at position ${pos0[b]} + ${Tq} queries exceeds ${Tk} keys`);
    let ran: boolean;
    if (Tq === 1) {
      // Decoding: per (sequence, head), keys and values read in place.
      const flops = 4 * B * Hq * Math.min(Tk, pos0[0] + 1) * D;
      const split = this.split(
        B * Hq > 1 && flops >= MIN_PARALLEL_FLOPS / 4,
        Math.min(B * Hq, 8 * this.threads),
      );
      const scratch = this.k.attentionDecodeScratchBytes(Tk);
      ran = this.run.attentionDecode(split, out, lse, q, k, v, B, Tk, Hq, Hkv, D, pos0, scale, scratch);
    } else {
      const flops = 4 * B * Hq * Tq * Math.min(Tk, Tq + pos0[0]) * D;
      const split = this.split(
        B * Hkv > 1 && flops >= MIN_PARALLEL_FLOPS,
        Math.min(B * Hkv, 8 * this.threads),
      );
      const scratch = this.k.attentionScratchBytes((Hq / Hkv) * Tq, Tk, D, 0);
      ran = this.run.attentionForward(split, out, lse, q, k, v, B, Tq, Tk, Hq, Hkv, D, pos0, scale, scratch);
    }
    if (!ran) this.reference().attention(out, lse, q, k, v, sh, pos0, scale);
  }

  attentionBackward(g: AttentionGrads<S>, sh: AttentionShape, scale: number): void {
    const { B, Tq, Tk, Hq, Hkv, D } = sh;
    if (D % 4 !== 0 || Hq % Hkv !== 0 || Tq !== Tk) {
      this.reference().attentionBackward(g, sh, scale);
      return;
    }
    const flops = 8 * B * Hq * Tq * Tq * D;
    const split = this.split(B * Hkv > 1 && flops >= MIN_PARALLEL_FLOPS, Math.min(B * Hkv, 8 * this.threads));
    const scratch = this.k.attentionScratchBytes((Hq / Hkv) * Tq, Tk, D, 1);
    const { dq, dk, dv, dOut, q, k, v, out, lse } = g;
    if (
      !this.run.attentionBackward(
        split,
        dq,
        dk,
        dv,
        dOut,
        q,
        k,
        v,
        out,
        lse,
        B,
        Tq,
        Hq,
        Hkv,
        D,
        scale,
        scratch,
      )
    )
      this.reference().attentionBackward(g, sh, scale);
  }

  tokenStats(out: S, lse: S, logits: S, targets: Int32Array, N: number, V: number): void {
    checkTargets(targets, N, V);
    const split = this.split(N > 1 && N * V >= MIN_PARALLEL_EXP, Math.min(N, 8 * this.threads));
    if (!this.run.tokenStatsForward(split, out, lse, logits, targets, N, V))
      this.reference().tokenStats(out, lse, logits, targets, N, V);
  }

  tokenStatsBackward(
    dLogits: S,
    dOut: S,
    logits: S,
    lse: S,
    targets: Int32Array,
    N: number,
    V: number,
  ): void {
    checkTargets(targets, N, V);
    const split = this.split(N > 1 && N * V >= MIN_PARALLEL_EXP, Math.min(N, 8 * this.threads));
    if (!this.run.tokenStatsBackward(split, dLogits, dOut, logits, lse, targets, N, V, V * 4))
      this.reference().tokenStatsBackward(dLogits, dOut, logits, lse, targets, N, V);
  }

  rmsnorm(y: S, rstd: S, x: S, w: S, rows: number, dim: number, eps: number): void {
    const split = this.split(rows > 1 && rows * dim >= MIN_PARALLEL_ELEMENTS);
    if (!this.run.rmsnormForward(split, y, rstd, x, w, rows, dim, eps))
      this.reference().rmsnorm(y, rstd, x, w, rows, dim, eps);
  }

  rmsnormBackward(dx: S, dw: S, dy: S, x: S, w: S, rstd: S, rows: number, dim: number): void {
    const split = this.split(rows * dim >= MIN_PARALLEL_ELEMENTS);
    if (!this.run.rmsnormBackward(split, dx, dw, dy, x, w, rstd, rows, dim))
      this.reference().rmsnormBackward(dx, dw, dy, x, w, rstd, rows, dim);
  }

  swiglu(out: S, gate: S, up: S): void {
    const n = out.size;
    if (!this.run.swigluForward(this.split(n >= MIN_PARALLEL_EXP), out, gate, up, n))
      this.reference().swiglu(out, gate, up);
  }

  swigluBackward(dGate: S, dUp: S, gate: S, up: S, dOut: S): void {
    const n = dOut.size;
    if (!this.run.swigluBackward(this.split(n >= MIN_PARALLEL_EXP), dGate, dUp, gate, up, dOut, n))
      this.reference().swigluBackward(dGate, dUp, gate, up, dOut);
  }

  adamw(param: S, grad: S, m: S, v: S, hp: AdamWStep): void {
    const n = param.size;
    const { lr, beta1, beta2, eps, weightDecay, step } = hp;
    const bc1 = 1 - beta1 ** step;
    const bc2 = 1 - beta2 ** step;
    const split = this.split(n >= MIN_PARALLEL_ELEMENTS);
    if (!this.run.adamw(split, param, grad, m, v, n, lr, beta1, beta2, eps, weightDecay, bc1, bc2))
      this.reference().adamw(param, grad, m, v, hp);
  }

  axpy(y: S, x: S, alpha: number): void {
    const n = y.size;
    if (!this.run.axpy(this.split(n >= MIN_PARALLEL_ELEMENTS), y, x, alpha, n))
      this.reference().axpy(y, x, alpha);
  }

  // ------------------------------------------------------------------ elementwise and broadcasts
  binary(op: BinaryOp, out: S, a: S, b: S): void {
    const n = out.size;
    const bs = b.size === 1 && n !== 1;
    if (a.size < n || (!bs && b.size < n)) {
      this.reference().binary(op, out, a, b);
      return;
    }
    if (!this.run.binary(this.split(n >= MIN_PARALLEL_ELEMENTS), BINARY_CODE[op], out, a, b, n, +bs))
      this.reference().binary(op, out, a, b);
  }

  binaryBackward(op: BinaryOp, dA: S | null, dB: S | null, a: S, b: S, dOut: S): void {
    const n = dOut.size;
    // A broadcast scalar's gradient is a reduction: the reference does it.
    if (b.size === 1 && n !== 1) {
      this.reference().binaryBackward(op, dA, dB, a, b, dOut);
      return;
    }
    const split = this.split(n >= MIN_PARALLEL_ELEMENTS);
    if (!this.run.binaryBackward(split, BINARY_CODE[op], dA, dB, a, b, dOut, n))
      this.reference().binaryBackward(op, dA, dB, a, b, dOut);
  }

  unary(op: UnaryOp, out: S, a: S): void {
    if (op === "log") {
      this.reference().unary(op, out, a);
      return;
    }
    const n = out.size;
    const code = UNARY_CODE[op];
    const split = this.split(n >= (code === 1 || code >= 6 ? MIN_PARALLEL_EXP : MIN_PARALLEL_ELEMENTS));
    if (!this.run.unary(split, code, out, a, n)) this.reference().unary(op, out, a);
  }

  unaryBackward(op: UnaryOp, dA: S, a: S, y: S, dOut: S): void {
    const n = dA.size;
    const code = UNARY_CODE[op];
    const split = this.split(n >= (code === 7 ? MIN_PARALLEL_EXP : MIN_PARALLEL_ELEMENTS));
    if (!this.run.unaryBackward(split, code, dA, a, y, dOut, n))
      this.reference().unaryBackward(op, dA, a, y, dOut);
  }

  clamp(out: S, a: S, lo: number, hi: number): void {
    this.reference().clamp(out, a, lo, hi);
  }

  clampBackward(dA: S, a: S, lo: number, hi: number, dOut: S): void {
    this.reference().clampBackward(dA, a, lo, hi, dOut);
  }

  affine(out: S, a: S, s: number, t: number): void {
    const n = out.size;
    if (!this.run.affine(this.split(n >= MIN_PARALLEL_ELEMENTS), out, a, s, t, n))
      this.reference().affine(out, a, s, t);
  }

  sum(out: S, a: S, rows?: number, cols?: number): void {
    if (rows === undefined || cols === undefined) {
      // A whole-tensor sum returns its value: the kernel runs whole, outside the chunked calls.
      if (!this.glue.mine(out) || !this.glue.mine(a)) {
        this.reference().sum(out, a);
        return;
      }
      if (out.size < 1) throw new Error("wasm backend: sum out has 0 floats, needs 1");
      a.clean();
      out.data[0] = this.k.sumAll(a.ptr, a.size);
      return;
    }
    const split = this.split(rows > 1 && rows * cols >= MIN_PARALLEL_ELEMENTS);
    if (!this.run.sumRows(split, out, a, rows, cols)) this.reference().sum(out, a, rows, cols);
  }

  sumSquares(a: S): number {
    if (!this.glue.mine(a)) return this.reference().sumSquares(a);
    a.clean();
    return this.k.sumSquares(a.ptr, a.size);
  }

  sumRowsAcc(out: S, a: S, rows: number, cols: number): void {
    const split = this.split(rows * cols >= MIN_PARALLEL_ELEMENTS);
    if (!this.run.sumRowsAcc(split, out, a, rows, cols)) this.reference().sumRowsAcc(out, a, rows, cols);
  }

  addRowVector(out: S, a: S, bias: S, rows: number, cols: number): void {
    const split = this.split(rows > 1 && rows * cols >= MIN_PARALLEL_ELEMENTS);
    if (!this.run.addRowVector(split, out, a, bias, rows, cols))
      this.reference().addRowVector(out, a, bias, rows, cols);
  }

  broadcastRows(out: S, s: S, rows: number, cols: number, accumulate: boolean): void {
    const split = this.split(rows > 1 && rows * cols >= MIN_PARALLEL_ELEMENTS);
    if (!this.run.broadcastRows(split, out, s, rows, cols, +accumulate))
      this.reference().broadcastRows(out, s, rows, cols, accumulate);
  }

  rope(out: S, x: S, positions: Int32Array, sh: RopeShape): void {
    const { rows, H, D, theta, scaling, inverse = false } = sh;
    let maxPos = -1;
    let minPos = 0;
    for (let r = 0; r < rows; r++) {
      const p = positions[r];
      if (p > maxPos) maxPos = p;
      if (p < minPos) minPos = p;
    }
    if (D % 8 !== 0 || minPos < 0 || maxPos > MAX_ROPE_POSITION || positions.length < rows) {
      this.reference().rope(out, x, positions, sh);
      return;
    }
    if (!this.glue.mine(out) || !this.glue.mine(x)) {
      this.reference().rope(out, x, positions, sh);
      return;
    }
    const tab = this.ropeTable(D, theta, maxPos, scaling);
    const split = this.split(rows > 1 && rows * H * D >= MIN_PARALLEL_ELEMENTS);
    this.run.rope(split, out, x, positions, rows, H, D, tab.cos, tab.sin, inverse ? -1 : 1);
  }

  /** cos/sin of position * inverse frequency, [position][D/2], cached per (D, theta, scaling) and grown on demand. */
  private ropeTable(D: number, theta: number, maxPos: number, scaling?: RopeScaling): RopeTable {
    const key = `${D}:${theta}:${scaling ? JSON.stringify(scaling) : ""}`;
    const old = this.ropeTables.get(key);
    if (old && old.positions > maxPos) return old;
    const positions = Math.max(maxPos + 1, 2 * (old?.positions ?? 0), 256);
    const half = D / 2;
    const inv = ropeInvFreq(D, theta, scaling);
    const { ptr, cls } = this.heap.alloc(2 * positions * half * 4);
    const c = new Float32Array(this.heap.buffer, ptr, positions * half);
    const s = new Float32Array(this.heap.buffer, ptr + positions * half * 4, positions * half);
    for (let p = 0; p < positions; p++)
      for (let i = 0; i < half; i++) {
        const ang = p * inv[i];
        c[p * half + i] = Math.cos(ang);
        s[p * half + i] = Math.sin(ang);
      }
    if (old) this.heap.release(old.cos, old.cls);
    const tab = { cos: ptr, sin: ptr + positions * half * 4, cls, positions };
    this.ropeTables.set(key, tab);
    return tab;
  }

  embedding(out: S, table: S, ids: Int32Array, dim: number): void {
    checkIds(ids, table.size / dim, "embedding");
    const n = ids.length;
    const split = this.split(n > 1 && n * dim >= MIN_PARALLEL_ELEMENTS);
    if (!this.run.embedding(split, out, table, ids, n, dim)) this.reference().embedding(out, table, ids, dim);
  }

  embeddingBackward(dTable: S, ids: Int32Array, dOut: S, dim: number): void {
    checkIds(ids, dTable.size / dim, "embeddingBackward");
    if (!this.run.embeddingBackward(SERIAL, dTable, ids, dOut, ids.length, dim))
      this.reference().embeddingBackward(dTable, ids, dOut, dim);
  }
}

function checkTargets(targets: Int32Array, N: number, V: number): void {
  if (targets.length < N) throw new Error(`tokenStats: ${targets.length} targets for ${N} rows`);
  for (let r = 0; r < N; r++)
    if (targets[r] >= V) throw new Error(`tokenStats: target ${targets[r]} outside vocabulary of ${V}`);
}

function checkIds(ids: Int32Array, rows: number, what: string): void {
  for (const id of ids)
    if (id < 0 || id >= rows)
      throw new Error(`${what}: id ${id} outside a table of ${Math.floor(rows)} rows`);
}

/** A wasm backend, ready to pass to setBackend(). Synchronous: the module is compiled at start-up. */
export function createWasmBackend(opts: WasmBackendOptions = {}): WasmBackend {
  return new WasmBackend(opts);
}
