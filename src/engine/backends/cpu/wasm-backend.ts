// The fast CPU backend: CpuBackend with its storages in one shared WebAssembly.Memory and its ops
// run by WebAssembly SIMD kernels (wasm/assembly), split over a worker-thread pool when they are
// big enough. Ops or shapes the kernels do not cover (clamp, log, attention with a head size not
// a multiple of 4, ...) run the inherited TypeScript reference, which works unchanged because
// each storage's `data` is an ordinary Float32Array (a view into the shared memory).

import { availableParallelism } from "node:os";
import type { AttentionShape, BinaryOp, FloatArray, UnaryOp } from "../../backend.ts";
import { CpuBackend, type CpuStorage } from "./backend.ts";
import { ropeInvFreq } from "./reference.ts";
import { WasmHeap } from "./wasm/allocator.ts";
import {
  instantiate,
  type Kernels,
  loadKernelModule,
  type ParallelKernel,
  type WasmMemory,
  wasmApi,
} from "./wasm/loader.ts";
import { CTRL_BYTES, callKernel, ThreadPool } from "./wasm/pool.ts";

/** A storage in the backend's memory: `ptr` is its byte offset, `cls` its block size class.
 *  It has CpuStorage's shape (`data`, a Float32Array view, and `size`), so every inherited
 *  reference kernel runs on it unchanged; it is not a subclass because `data` is an accessor.
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
    readonly owner: WasmBackend,
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

export class WasmBackend extends CpuBackend {
  override readonly name: string;
  readonly threads: number;
  /** Whether the fused multiply-add (relaxed SIMD) build of the kernels is in use. */
  readonly relaxed: boolean;
  readonly memory: WasmMemory;
  private readonly heap: WasmHeap;
  private readonly k: Kernels;
  private pool: ThreadPool | null;
  private scratchPtr = 0;
  private scratchCls = 0;
  private scratchStride = 0;
  private readonly ropeTables = new Map<string, RopeTable>();
  /** Kernel calls split across the pool, and calls run on the calling thread alone. */
  readonly calls = { parallel: 0, serial: 0 };

  constructor(opts: WasmBackendOptions = {}) {
    super("f32");
    const threads = Math.max(1, Math.floor(opts.threads ?? defaultThreads()));
    const { module, relaxed } = loadKernelModule();
    const initialPages = Math.max(2, Math.ceil(((opts.initialMiB ?? 16) * 2 ** 20) / 65536));
    this.memory = new wasmApi.Memory({ initial: initialPages, maximum: 65536, shared: true });
    this.k = instantiate(module, this.memory);
    this.heap = new WasmHeap(this.memory, Math.max(1024, this.k.heapBase()));
    this.relaxed = relaxed;
    const ctrl = this.heap.alloc(CTRL_BYTES).ptr;
    let pool: ThreadPool | null = null;
    if (threads > 1) {
      try {
        pool = new ThreadPool(this.k, module, this.memory, ctrl, threads);
      } catch (e) {
        // Kernels still run, on this thread: slower, never wrong.
        process.emitWarning(
          `wasm backend: no worker threads (${(e as Error).message}); running on one thread`,
        );
      }
    }
    this.pool = pool;
    this.threads = pool ? threads : 1;
    this.name = `wasm-simd${relaxed ? "-fma" : ""}-x${this.threads}`;
  }

  /** Stops the worker threads. Storages stay readable; kernels then run on the calling thread. */
  dispose(): void {
    this.pool?.dispose();
    this.pool = null;
  }

  /** Chunks of parallel kernels run by the worker threads (the rest ran on the calling thread). */
  get workerChunks(): number {
    return this.pool?.workerChunks ?? 0;
  }

  /** Bytes of the shared memory (the backend's high-water mark) and bytes in live storages. */
  memoryStats(): { capacity: number; inUse: number } {
    return { capacity: this.heap.capacity, inUse: this.heap.inUse };
  }

  // ------------------------------------------------------------------ storage
  override alloc(size: number): S {
    if (!Number.isInteger(size) || size < 0)
      throw new Error(`wasm backend: invalid allocation of ${size} floats`);
    const { ptr, cls, fresh } = this.heap.alloc(Math.max(1, size) * 4);
    return new WasmStorage(new Float32Array(this.heap.buffer, ptr, size), ptr, cls, this, !fresh);
  }

  override fill(s: S, value: number): void {
    if (this.mine(s)) {
      (s as WasmStorage).dirty = false;
      (s as WasmStorage).view.fill(value);
    } else super.fill(s, value);
  }

  override write(s: S, data: ArrayLike<number>, offset = 0): void {
    if (this.mine(s) && offset === 0 && data.length === s.size) {
      (s as WasmStorage).view.set(data); // all of it: no need to zero first
      (s as WasmStorage).dirty = false;
    } else super.write(s, data, offset);
  }

  override copy(dst: S, src: S, n = src.size, dstOff = 0, srcOff = 0): void {
    if (!this.mine(dst) || !this.mine(src)) {
      super.copy(dst, src, n, dstOff, srcOff);
      return;
    }
    if (n < 0 || srcOff < 0 || dstOff < 0 || srcOff + n > src.size || dstOff + n > dst.size)
      throw new RangeError(`copy of ${n} floats from ${srcOff} of ${src.size} to ${dstOff} of ${dst.size}`);
    // One native move inside the memory: the KV cache takes many small copies per decoding step.
    const s0 = this.p(src) / 4 + srcOff;
    const d0 = (dstOff === 0 && n >= dst.size ? this.o(dst, n) : this.p(dst)) / 4 + dstOff;
    this.all().copyWithin(d0, s0, s0 + n);
  }

  private allView: Float32Array | null = null;
  /** A view over the whole memory (remade after growth). */
  private all(): Float32Array {
    const buf = this.heap.buffer;
    if (this.allView?.buffer !== buf) this.allView = new Float32Array(buf);
    return this.allView;
  }

  override free(s: S): void {
    if (!(s instanceof WasmStorage) || s.owner !== this) return; // not ours: the GC owns it
    if (s.freed) throw new Error("wasm backend: storage freed twice");
    s.freed = true;
    this.heap.release(s.ptr, s.cls);
  }

  /** Whether s lives in this backend's memory (else the reference kernel runs on its data). */
  private mine(s: S): boolean {
    if (s instanceof WasmStorage && s.owner === this) {
      if (s.freed) throw new Error("wasm backend: use of a freed storage");
      return true;
    }
    return false;
  }

  /** Byte offset of s, an input (or an output the kernel accumulates into): zeroed if dirty. */
  private p(s: S): number {
    (s as WasmStorage).clean();
    return (s as WasmStorage).ptr;
  }

  /** Byte offset of s, an output the kernel overwrites at its first n floats. Call it after the
   *  inputs' p(): an output may alias an input. */
  private o(s: S, n: number): number {
    const w = s as WasmStorage;
    if (w.size <= n) w.dirty = false;
    else w.clean();
    return w.ptr;
  }

  /** Whether all the storages live in this backend's memory (up to 9; no rest array on this hot path). */
  private ours(a: S, b?: S, c?: S, d?: S, e?: S, f?: S, g?: S, h?: S, i?: S): boolean {
    return (
      this.mine(a) &&
      (!b || this.mine(b)) &&
      (!c || this.mine(c)) &&
      (!d || this.mine(d)) &&
      (!e || this.mine(e)) &&
      (!f || this.mine(f)) &&
      (!g || this.mine(g)) &&
      (!h || this.mine(h)) &&
      (!i || this.mine(i))
    );
  }

  private need(s: S, n: number, what: string): void {
    if (s.size < n) throw new Error(`wasm backend: ${what} has ${s.size} floats, needs ${n}`);
  }

  /** Per-thread scratch of at least `bytes`; returns [base, stride]. */
  private scratch(bytes: number): [number, number] {
    const stride = Math.ceil((bytes + 64) / 64) * 64;
    if (stride > this.scratchStride) {
      if (this.scratchCls) this.heap.release(this.scratchPtr, this.scratchCls);
      const { ptr, cls } = this.heap.alloc(stride * this.threads);
      this.scratchPtr = ptr;
      this.scratchCls = cls;
      this.scratchStride = stride;
    }
    return [this.scratchPtr, this.scratchStride];
  }

  /** Copy an Int32Array into the memory for the duration of fn. */
  private withInts(ids: Int32Array, fn: (ptr: number) => void): void {
    const { ptr, cls } = this.heap.alloc(Math.max(1, ids.length) * 4);
    new Int32Array(this.heap.buffer, ptr, ids.length).set(ids);
    try {
      fn(ptr);
    } finally {
      this.heap.release(ptr, cls);
    }
  }

  /** Run a kernel on the pool (in `chunks` pieces; `scratchArg` indexes a per-thread scratch base,
   *  followed by its stride) or on this thread alone. */
  private run(
    name: ParallelKernel,
    parallel: boolean,
    a: number[],
    chunks = 4 * this.threads,
    scratchArg = -1,
  ): void {
    if (parallel && this.pool) {
      this.calls.parallel++;
      this.pool.run(name, a, Math.max(1, chunks), scratchArg);
    } else {
      this.calls.serial++;
      callKernel(this.k[name], 0, 1, a);
    }
  }

  // ------------------------------------------------------------------ kernels
  override matmul(
    C: S,
    A: S,
    B: S,
    M: number,
    N: number,
    K: number,
    transA: boolean,
    transB: boolean,
    accumulate: boolean,
  ): void {
    if (!this.ours(C, A, B)) {
      super.matmul(C, A, B, M, N, K, transA, transB, accumulate);
      return;
    }
    this.need(A, M * K, "matmul A");
    this.need(B, K * N, "matmul B");
    this.need(C, M * N, "matmul C");
    if (M === 0 || N === 0) return;
    const [s, stride] = this.scratch(this.k.matmulScratchBytes());
    const pa = this.p(A);
    const pb = this.p(B);
    const pc = accumulate ? this.p(C) : this.o(C, M * N);
    const args = [pc, pa, pb, M, N, K, +transA, +transB, +accumulate, s, stride];
    // Chunks of at least 16 blocks (4 x 8 tiles) each: every chunk packs its own panels.
    const blocks = Math.max(Math.ceil(M / 4), Math.ceil(N / 8));
    const chunks = Math.min(4 * this.threads, Math.max(this.threads, Math.floor(blocks / 16)));
    this.run("matmul", 2 * M * N * K >= MIN_PARALLEL_FLOPS, args, chunks, 9);
  }

  override attention(
    out: S,
    lse: S,
    q: S,
    k: S,
    v: S,
    sh: AttentionShape,
    pos0: Int32Array,
    scale: number,
  ): void {
    const { B, Tq, Tk, Hq, Hkv, D } = sh;
    if (!this.ours(out, lse, q, k, v) || D % 4 !== 0 || Hq % Hkv !== 0) {
      super.attention(out, lse, q, k, v, sh, pos0, scale);
      return;
    }
    this.need(q, B * Tq * Hq * D, "attention q");
    this.need(out, B * Tq * Hq * D, "attention out");
    this.need(k, B * Tk * Hkv * D, "attention k");
    this.need(v, B * Tk * Hkv * D, "attention v");
    this.need(lse, B * Hq * Tq, "attention lse");
    if (pos0.length < B) throw new Error(`attention: ${pos0.length} start positions for ${B} sequences`);
    for (let b = 0; b < B; b++)
      if (pos0[b] < 0 || pos0[b] + Tq > Tk)
        throw new Error(`attention: sequence ${b} at position ${pos0[b]} + ${Tq} queries exceeds ${Tk} keys`);
    const pq = this.p(q);
    const pk = this.p(k);
    const pv = this.p(v);
    const po = this.o(out, B * Tq * Hq * D);
    const pl = this.o(lse, B * Hq * Tq);
    if (Tq === 1) {
      // Decoding: per (sequence, head), keys and values read in place.
      const [s, stride] = this.scratch(this.k.attentionDecodeScratchBytes(Tk));
      const flops = 4 * B * Hq * Math.min(Tk, pos0[0] + 1) * D;
      this.withInts(pos0, (pp) => {
        const args = [po, pl, pq, pk, pv, B, Tk, Hq, Hkv, D, pp, scale, s, stride];
        const par = B * Hq > 1 && flops >= MIN_PARALLEL_FLOPS / 4;
        this.run("attentionDecode", par, args, Math.min(B * Hq, 8 * this.threads), 12);
      });
      return;
    }
    const [s, stride] = this.scratch(this.k.attentionScratchBytes((Hq / Hkv) * Tq, Tk, D, 0));
    const flops = 4 * B * Hq * Tq * Math.min(Tk, Tq + pos0[0]) * D;
    this.withInts(pos0, (pp) => {
      const args = [po, pl, pq, pk, pv, B, Tq, Tk, Hq, Hkv, D, pp, scale];
      const par = B * Hkv > 1 && flops >= MIN_PARALLEL_FLOPS;
      this.run("attentionForward", par, [...args, s, stride], Math.min(B * Hkv, 8 * this.threads), 13);
    });
  }

  override attentionBackward(
    dq: S,
    dk: S,
    dv: S,
    dOut: S,
    q: S,
    k: S,
    v: S,
    out: S,
    lse: S,
    sh: AttentionShape,
    scale: number,
  ): void {
    const { B, Tq, Tk, Hq, Hkv, D } = sh;
    if (!this.ours(dq, dk, dv, dOut, q, k, v, out, lse) || D % 4 !== 0 || Hq % Hkv !== 0 || Tq !== Tk) {
      super.attentionBackward(dq, dk, dv, dOut, q, k, v, out, lse, sh, scale);
      return;
    }
    const nq = B * Tq * Hq * D;
    const nk = B * Tk * Hkv * D;
    for (const [x, n, w] of [
      [dq, nq, "dq"],
      [dOut, nq, "dOut"],
      [q, nq, "q"],
      [out, nq, "out"],
      [dk, nk, "dk"],
      [dv, nk, "dv"],
      [k, nk, "k"],
      [v, nk, "v"],
    ] as const)
      this.need(x, n, `attentionBackward ${w}`);
    this.need(lse, B * Hq * Tq, "attentionBackward lse");
    const [s, stride] = this.scratch(this.k.attentionScratchBytes((Hq / Hkv) * Tq, Tk, D, 1));
    const flops = 8 * B * Hq * Tq * Tq * D;
    const args = [
      this.p(dq),
      this.p(dk),
      this.p(dv),
      this.p(dOut),
      this.p(q),
      this.p(k),
      this.p(v),
      this.p(out),
      this.p(lse),
      B,
      Tq,
      Hq,
      Hkv,
      D,
      scale,
      s,
      stride,
    ];
    const par = B * Hkv > 1 && flops >= MIN_PARALLEL_FLOPS;
    this.run("attentionBackward", par, args, Math.min(B * Hkv, 8 * this.threads), 15);
  }

  override tokenStats(out: S, lse: S, logits: S, targets: Int32Array, N: number, V: number): void {
    if (!this.ours(out, lse, logits)) {
      super.tokenStats(out, lse, logits, targets, N, V);
      return;
    }
    this.need(logits, N * V, "tokenStats logits");
    this.need(out, N * 3, "tokenStats out");
    this.need(lse, N, "tokenStats lse");
    this.checkTargets(targets, N, V);
    this.withInts(targets, (tp) => {
      const pz = this.p(logits);
      const args = [this.o(out, N * 3), this.o(lse, N), pz, tp, N, V];
      this.run("tokenStatsForward", N > 1 && N * V >= MIN_PARALLEL_EXP, args, Math.min(N, 8 * this.threads));
    });
  }

  override tokenStatsBackward(
    dLogits: S,
    dOut: S,
    logits: S,
    lse: S,
    targets: Int32Array,
    N: number,
    V: number,
  ): void {
    if (!this.ours(dLogits, dOut, logits, lse)) {
      super.tokenStatsBackward(dLogits, dOut, logits, lse, targets, N, V);
      return;
    }
    this.need(logits, N * V, "tokenStatsBackward logits");
    this.need(dLogits, N * V, "tokenStatsBackward dLogits");
    this.need(dOut, N * 3, "tokenStatsBackward dOut");
    this.need(lse, N, "tokenStatsBackward lse");
    this.checkTargets(targets, N, V);
    const [s, stride] = this.scratch(V * 4);
    this.withInts(targets, (tp) => {
      const args = [this.p(dLogits), this.p(dOut), this.p(logits), this.p(lse), tp, N, V, s, stride];
      this.run(
        "tokenStatsBackward",
        N > 1 && N * V >= MIN_PARALLEL_EXP,
        args,
        Math.min(N, 8 * this.threads),
        7,
      );
    });
  }

  private checkTargets(targets: Int32Array, N: number, V: number): void {
    if (targets.length < N) throw new Error(`tokenStats: ${targets.length} targets for ${N} rows`);
    for (let r = 0; r < N; r++)
      if (targets[r] >= V) throw new Error(`tokenStats: target ${targets[r]} outside vocabulary of ${V}`);
  }

  override rmsnorm(y: S, rstd: S, x: S, w: S, rows: number, dim: number, eps: number): void {
    if (!this.ours(y, rstd, x, w)) {
      super.rmsnorm(y, rstd, x, w, rows, dim, eps);
      return;
    }
    this.need(x, rows * dim, "rmsnorm x");
    this.need(y, rows * dim, "rmsnorm y");
    this.need(w, dim, "rmsnorm w");
    this.need(rstd, rows, "rmsnorm rstd");
    const px = this.p(x);
    const pw = this.p(w);
    const args = [this.o(y, rows * dim), this.o(rstd, rows), px, pw, rows, dim, eps];
    this.run("rmsnormForward", rows > 1 && rows * dim >= MIN_PARALLEL_ELEMENTS, args);
  }

  override rmsnormBackward(dx: S, dw: S, dy: S, x: S, w: S, rstd: S, rows: number, dim: number): void {
    if (!this.ours(dx, dw, dy, x, w, rstd)) {
      super.rmsnormBackward(dx, dw, dy, x, w, rstd, rows, dim);
      return;
    }
    for (const [a, n, what] of [
      [dx, rows * dim, "dx"],
      [dy, rows * dim, "dy"],
      [x, rows * dim, "x"],
      [dw, dim, "dw"],
      [w, dim, "w"],
      [rstd, rows, "rstd"],
    ] as const)
      this.need(a, n, `rmsnormBackward ${what}`);
    const args = [this.p(dx), this.p(dw), this.p(dy), this.p(x), this.p(w), this.p(rstd), rows, dim];
    this.run("rmsnormBackward", rows * dim >= MIN_PARALLEL_ELEMENTS, args);
  }

  override swiglu(out: S, gate: S, up: S): void {
    if (!this.ours(out, gate, up)) {
      super.swiglu(out, gate, up);
      return;
    }
    const n = out.size;
    this.need(gate, n, "swiglu gate");
    this.need(up, n, "swiglu up");
    const pg = this.p(gate);
    const pu = this.p(up);
    this.run("swigluForward", n >= MIN_PARALLEL_EXP, [this.o(out, n), pg, pu, n]);
  }

  override swigluBackward(dGate: S, dUp: S, gate: S, up: S, dOut: S): void {
    if (!this.ours(dGate, dUp, gate, up, dOut)) {
      super.swigluBackward(dGate, dUp, gate, up, dOut);
      return;
    }
    const n = dOut.size;
    for (const [a, what] of [
      [dGate, "dGate"],
      [dUp, "dUp"],
      [gate, "gate"],
      [up, "up"],
    ] as const)
      this.need(a, n, `swigluBackward ${what}`);
    const args = [this.p(dGate), this.p(dUp), this.p(gate), this.p(up), this.p(dOut), n];
    this.run("swigluBackward", n >= MIN_PARALLEL_EXP, args);
  }

  override adamw(
    param: S,
    grad: S,
    m: S,
    v: S,
    lr: number,
    beta1: number,
    beta2: number,
    eps: number,
    weightDecay: number,
    step: number,
  ): void {
    if (!this.ours(param, grad, m, v)) {
      super.adamw(param, grad, m, v, lr, beta1, beta2, eps, weightDecay, step);
      return;
    }
    const n = param.size;
    this.need(grad, n, "adamw grad");
    this.need(m, n, "adamw m");
    this.need(v, n, "adamw v");
    const bc1 = 1 - beta1 ** step;
    const bc2 = 1 - beta2 ** step;
    const args = [
      this.p(param),
      this.p(grad),
      this.p(m),
      this.p(v),
      n,
      lr,
      beta1,
      beta2,
      eps,
      weightDecay,
      bc1,
      bc2,
    ];
    this.run("adamw", n >= MIN_PARALLEL_ELEMENTS, args);
  }

  override axpy(y: S, x: S, alpha: number): void {
    if (!this.ours(y, x)) {
      super.axpy(y, x, alpha);
      return;
    }
    const n = y.size;
    this.need(x, n, "axpy x");
    this.run("axpy", n >= MIN_PARALLEL_ELEMENTS, [this.p(y), this.p(x), alpha, n]);
  }
  // ------------------------------------------------------------------ elementwise and broadcasts
  override binary(op: BinaryOp, out: S, a: S, b: S): void {
    const n = out.size;
    const bs = b.size === 1 && n !== 1;
    if (!this.ours(out, a, b) || a.size < n || (!bs && b.size < n)) {
      super.binary(op, out, a, b);
      return;
    }
    const pa = this.p(a);
    const pb = this.p(b);
    const args = [BINARY_CODE[op], this.o(out, n), pa, pb, n, +bs];
    this.run("binary", n >= MIN_PARALLEL_ELEMENTS, args);
  }

  override binaryBackward(op: BinaryOp, dA: S | null, dB: S | null, a: S, b: S, dOut: S): void {
    const n = dOut.size;
    const bs = b.size === 1 && n !== 1;
    // A broadcast scalar's gradient is a reduction: the reference does it.
    if (bs || !this.ours(a, b, dOut) || (dA && !this.mine(dA)) || (dB && !this.mine(dB))) {
      super.binaryBackward(op, dA, dB, a, b, dOut);
      return;
    }
    for (const [x, w] of [
      [a, "a"],
      [b, "b"],
      [dA, "dA"],
      [dB, "dB"],
    ] as const)
      if (x) this.need(x, n, `binaryBackward ${w}`);
    const args = [
      BINARY_CODE[op],
      dA ? this.p(dA) : 0,
      dB ? this.p(dB) : 0,
      this.p(a),
      this.p(b),
      this.p(dOut),
      n,
    ];
    this.run("binaryBackward", n >= MIN_PARALLEL_ELEMENTS, args);
  }

  override unary(op: UnaryOp, out: S, a: S): void {
    const n = out.size;
    if (op === "log" || !this.ours(out, a)) {
      super.unary(op, out, a);
      return;
    }
    this.need(a, n, "unary a");
    const pa = this.p(a);
    this.run(
      "unary",
      n >= (UNARY_CODE[op] === 1 || UNARY_CODE[op] >= 6 ? MIN_PARALLEL_EXP : MIN_PARALLEL_ELEMENTS),
      [UNARY_CODE[op], this.o(out, n), pa, n],
    );
  }

  override unaryBackward(op: UnaryOp, dA: S, a: S, y: S, dOut: S): void {
    const n = dA.size;
    if (!this.ours(dA, a, y, dOut)) {
      super.unaryBackward(op, dA, a, y, dOut);
      return;
    }
    this.need(a, n, "unaryBackward a");
    this.need(y, n, "unaryBackward y");
    this.need(dOut, n, "unaryBackward dOut");
    const args = [UNARY_CODE[op], this.p(dA), this.p(a), this.p(y), this.p(dOut), n];
    this.run("unaryBackward", n >= (UNARY_CODE[op] === 7 ? MIN_PARALLEL_EXP : MIN_PARALLEL_ELEMENTS), args);
  }

  override affine(out: S, a: S, s: number, t: number): void {
    const n = out.size;
    if (!this.ours(out, a)) {
      super.affine(out, a, s, t);
      return;
    }
    this.need(a, n, "affine a");
    const pa = this.p(a);
    this.run("affine", n >= MIN_PARALLEL_ELEMENTS, [this.o(out, n), pa, s, t, n]);
  }

  override sum(out: S, a: S, rows?: number, cols?: number): void {
    if (!this.ours(out, a)) {
      super.sum(out, a, rows, cols);
      return;
    }
    if (rows === undefined || cols === undefined) {
      this.need(out, 1, "sum out");
      out.data[0] = this.k.sumAll(this.p(a), a.size);
      return;
    }
    this.need(a, rows * cols, "sum a");
    this.need(out, rows, "sum out");
    const pa = this.p(a);
    this.run("sumRows", rows > 1 && rows * cols >= MIN_PARALLEL_ELEMENTS, [
      this.o(out, rows),
      pa,
      rows,
      cols,
    ]);
  }

  override sumSquares(a: S): number {
    if (!this.ours(a)) return super.sumSquares(a);
    return this.k.sumSquares(this.p(a), a.size);
  }

  override sumRowsAcc(out: S, a: S, rows: number, cols: number): void {
    if (!this.ours(out, a)) {
      super.sumRowsAcc(out, a, rows, cols);
      return;
    }
    this.need(a, rows * cols, "sumRowsAcc a");
    this.need(out, cols, "sumRowsAcc out");
    this.run("sumRowsAcc", rows * cols >= MIN_PARALLEL_ELEMENTS, [this.p(out), this.p(a), rows, cols]);
  }

  override addRowVector(out: S, a: S, bias: S, rows: number, cols: number): void {
    if (!this.ours(out, a, bias)) {
      super.addRowVector(out, a, bias, rows, cols);
      return;
    }
    this.need(a, rows * cols, "addRowVector a");
    this.need(out, rows * cols, "addRowVector out");
    this.need(bias, cols, "addRowVector bias");
    const pa = this.p(a);
    const pb = this.p(bias);
    const args = [this.o(out, rows * cols), pa, pb, rows, cols];
    this.run("addRowVector", rows > 1 && rows * cols >= MIN_PARALLEL_ELEMENTS, args);
  }

  override broadcastRows(out: S, s: S, rows: number, cols: number, accumulate: boolean): void {
    if (!this.ours(out, s)) {
      super.broadcastRows(out, s, rows, cols, accumulate);
      return;
    }
    this.need(out, rows * cols, "broadcastRows out");
    this.need(s, rows, "broadcastRows s");
    const ps = this.p(s);
    const args = [accumulate ? this.p(out) : this.o(out, rows * cols), ps, rows, cols, +accumulate];
    this.run("broadcastRows", rows > 1 && rows * cols >= MIN_PARALLEL_ELEMENTS, args);
  }

  override rope(
    out: S,
    x: S,
    positions: Int32Array,
    rows: number,
    H: number,
    D: number,
    theta: number,
    inverse: boolean,
  ): void {
    let maxPos = -1;
    let minPos = 0;
    for (let r = 0; r < rows; r++) {
      const p = positions[r];
      if (p > maxPos) maxPos = p;
      if (p < minPos) minPos = p;
    }
    if (
      !this.ours(out, x) ||
      D % 8 !== 0 ||
      minPos < 0 ||
      maxPos > MAX_ROPE_POSITION ||
      positions.length < rows
    ) {
      super.rope(out, x, positions, rows, H, D, theta, inverse);
      return;
    }
    this.need(x, rows * H * D, "rope x");
    this.need(out, rows * H * D, "rope out");
    const tab = this.ropeTable(D, theta, maxPos);
    this.withInts(positions.subarray(0, rows), (pp) => {
      const px = this.p(x);
      const args = [this.o(out, rows * H * D), px, pp, rows, H, D, tab.cos, tab.sin, inverse ? -1 : 1];
      this.run("rope", rows > 1 && rows * H * D >= MIN_PARALLEL_ELEMENTS, args);
    });
  }

  /** cos/sin of position * inverse frequency, [position][D/2], cached per (D, theta) and grown on demand. */
  private ropeTable(D: number, theta: number, maxPos: number): RopeTable {
    const key = `${D}:${theta}`;
    const old = this.ropeTables.get(key);
    if (old && old.positions > maxPos) return old;
    const positions = Math.max(maxPos + 1, 2 * (old?.positions ?? 0), 256);
    const half = D / 2;
    const inv = ropeInvFreq(D, theta);
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

  override embedding(out: S, table: S, ids: Int32Array, dim: number): void {
    if (!this.ours(out, table)) {
      super.embedding(out, table, ids, dim);
      return;
    }
    this.checkIds(ids, table.size / dim, "embedding");
    this.need(out, ids.length * dim, "embedding out");
    this.withInts(ids, (ip) => {
      const pt = this.p(table);
      const args = [this.o(out, ids.length * dim), pt, ip, ids.length, dim];
      this.run("embedding", ids.length > 1 && ids.length * dim >= MIN_PARALLEL_ELEMENTS, args);
    });
  }

  override embeddingBackward(dTable: S, ids: Int32Array, dOut: S, dim: number): void {
    if (!this.ours(dTable, dOut)) {
      super.embeddingBackward(dTable, ids, dOut, dim);
      return;
    }
    this.checkIds(ids, dTable.size / dim, "embeddingBackward");
    this.need(dOut, ids.length * dim, "embeddingBackward dOut");
    this.withInts(ids, (ip) =>
      this.run("embeddingBackward", false, [this.p(dTable), ip, this.p(dOut), ids.length, dim]),
    );
  }

  private checkIds(ids: Int32Array, rows: number, what: string): void {
    for (const id of ids)
      if (id < 0 || id >= rows)
        throw new Error(`${what}: id ${id} outside a table of ${Math.floor(rows)} rows`);
  }
}

/** A wasm backend, ready to pass to setBackend(). Synchronous: the module is compiled at start-up. */
export function createWasmBackend(opts: WasmBackendOptions = {}): WasmBackend {
  return new WasmBackend(opts);
}
