// The WebGPU backend: storages are GPU buffers, kernels are the WGSL of kernels.ts.
//
// Kernels are recorded into one command encoder and submitted in batches; nothing waits for the
// GPU except read(), so a whole training step or sampling call stays on the device. Uniform
// parameters of a batch live in one buffer (256 bytes a kernel) written just before the submit;
// host arrays (token ids, positions) and writes go through staging buffers copied inside the
// encoder, so every operation runs in program order. Freed buffers are pooled by size and cleared
// on reuse, which keeps memory flat over thousands of steps.

import type {
  AdamWStep,
  AttentionGrads,
  AttentionShape,
  Backend,
  BinaryOp,
  FloatArray,
  MatmulShape,
  RopeShape,
  Storage,
  UnaryOp,
} from "../../backend.ts";
import { ropeInvFreq } from "../cpu/reference.ts";
import { GpuDeviceLostError, type GpuHandle } from "./device.ts";
import * as K from "./kernels.ts";

// WebGPU usage flags (numeric, so this module does not need Dawn's globals).
const MAP_READ = 0x1;
const COPY_SRC = 0x4;
const COPY_DST = 0x8;
const UNIFORM = 0x40;
const STORAGE = 0x80;
const PARAM_BYTES = 256; // minUniformBufferOffsetAlignment
const BATCH = 256; // kernels per submit
const MAX_GROUPS = 65535;

interface Buf {
  readonly buffer: GPUBuffer;
  readonly size: number;
}

export class GpuStorage implements Storage {
  constructor(
    readonly buffer: GPUBuffer,
    readonly size: number,
  ) {}
}

type S = GpuStorage;

interface Pipeline {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
  src: K.KernelSource;
  module: GPUShaderModule;
}

function bytesOf(n: number): number {
  return Math.max(4, n * 4);
}

export class WebGpuBackend implements Backend<GpuStorage> {
  readonly name: string;
  readonly dtype = "f32" as const;
  readonly device: GPUDevice;
  private gpu: GpuHandle | null;
  private encoder: GPUCommandEncoder | null = null;
  private readonly params = new ArrayBuffer(BATCH * PARAM_BYTES);
  private readonly paramsU = new Uint32Array(this.params);
  private readonly paramsF = new Float32Array(this.params);
  private paramBuf: GPUBuffer | null = null;
  private paramSlots = 0;
  private transient: GPUBuffer[] = [];
  private readonly pool = new Map<number, GPUBuffer[]>();
  private readonly pipelines = new Map<string, Pipeline>();
  private readonly ropeTables = new Map<string, { cos: GPUBuffer; sin: GPUBuffer; positions: number }>();
  private lostReason: string | null = null;
  private firstError: string | null = null;
  private disposed = false;
  /** Bytes held by live storages, and by freed ones kept for reuse. */
  liveBytes = 0;
  pooledBytes = 0;

  constructor(gpu: GpuHandle) {
    this.gpu = gpu;
    this.device = gpu.device;
    this.name = `webgpu (${gpu.label || "unknown adapter"})`;
    this.device.lost.then((info) => {
      if (!this.disposed) this.lostReason = info.message || String(info.reason);
    });
    const onError = (e: Event) => {
      this.firstError ??= (e as GPUUncapturedErrorEvent).error?.message ?? "unknown WebGPU error";
    };
    (this.device as unknown as { onuncapturederror: unknown }).onuncapturederror = onError;
  }

  /** The adapter's optional features (e.g. subgroups), as reported at start-up. */
  get features(): readonly string[] {
    return this.gpu?.features ?? [];
  }

  /** Release every buffer and the device. The backend is unusable afterwards. */
  dispose(): void {
    if (this.disposed) return;
    this.flush();
    this.disposed = true;
    for (const list of this.pool.values()) for (const b of list) b.destroy();
    this.pool.clear();
    this.device.destroy();
    this.gpu = null; // lets Dawn's instance go, so the process can exit
  }

  private check(): void {
    if (this.lostReason !== null)
      throw new GpuDeviceLostError(`the WebGPU device was lost: ${this.lostReason}`);
    if (this.disposed) throw new Error("the WebGPU backend was disposed");
  }

  private throwIfError(): void {
    this.check();
    if (this.firstError !== null) {
      const msg = this.firstError;
      this.firstError = null;
      throw new Error(`WebGPU error: ${msg}`);
    }
  }

  private enc(): GPUCommandEncoder {
    this.encoder ??= this.device.createCommandEncoder();
    return this.encoder;
  }

  /** Submit everything recorded so far (without waiting for it); `keep` lists staging buffers
   *  that kernels not yet recorded still need. */
  flush(keep?: Set<GPUBuffer>): void {
    if (!this.encoder) return;
    if (this.paramBuf) {
      this.device.queue.writeBuffer(this.paramBuf, 0, this.params, 0, this.paramSlots * PARAM_BYTES);
      this.transient.push(this.paramBuf);
      this.paramBuf = null;
      this.paramSlots = 0;
    }
    this.device.queue.submit([this.encoder.finish()]);
    this.encoder = null;
    // Staging buffers die once the GPU is done with this submit (destroying them right after the
    // submit, which WebGPU allows, crashes Dawn on SwiftShader while long kernels still run).
    const later: GPUBuffer[] = [];
    const done: GPUBuffer[] = [];
    for (const b of this.transient) (keep?.has(b) ? later : done).push(b);
    this.transient = later;
    if (done.length)
      this.device.queue.onSubmittedWorkDone().then(
        () => {
          for (const b of done) b.destroy();
        },
        () => {},
      );
  }

  /** Wait until the GPU has finished everything submitted; surfaces device loss and errors. */
  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    this.throwIfError();
  }

  // ------------------------------------------------------------ storage
  private rawAlloc(bytes: number): GPUBuffer {
    const list = this.pool.get(bytes);
    const reused = list?.pop();
    if (reused) {
      this.pooledBytes -= bytes;
      this.enc().clearBuffer(reused);
      return reused;
    }
    return this.device.createBuffer({ size: bytes, usage: STORAGE | COPY_SRC | COPY_DST });
  }

  private rawFree(b: GPUBuffer): void {
    const list = this.pool.get(b.size) ?? [];
    list.push(b);
    this.pool.set(b.size, list);
    this.pooledBytes += b.size;
  }

  alloc(size: number): S {
    this.check();
    const bytes = bytesOf(size);
    this.liveBytes += bytes;
    return new GpuStorage(this.rawAlloc(bytes), size);
  }

  free(s: S): void {
    if (this.disposed) return;
    this.liveBytes -= s.buffer.size;
    this.rawFree(s.buffer);
  }

  /** A buffer holding `data`, alive until the next submit (host arrays for one kernel). */
  private upload(data: Float32Array | Int32Array): GPUBuffer {
    const b = this.device.createBuffer({
      size: Math.max(4, data.byteLength),
      usage: STORAGE | COPY_SRC,
      mappedAtCreation: true,
    });
    const view =
      data instanceof Int32Array ? new Int32Array(b.getMappedRange()) : new Float32Array(b.getMappedRange());
    view.set(data);
    b.unmap();
    this.transient.push(b);
    return b;
  }

  write(s: S, data: ArrayLike<number>, offset = 0): void {
    this.check();
    if (data.length === 0) return;
    if (offset + data.length > s.size)
      throw new Error(`write of ${data.length} floats at ${offset} into ${s.size}`);
    const staging = this.upload(data instanceof Float32Array ? data : Float32Array.from(data));
    this.enc().copyBufferToBuffer(staging, 0, s.buffer, offset * 4, data.length * 4);
  }

  async read(s: S): Promise<FloatArray> {
    this.check();
    const bytes = s.size * 4;
    if (bytes === 0) return new Float32Array(0);
    const staging = this.device.createBuffer({ size: bytes, usage: MAP_READ | COPY_DST });
    this.enc().copyBufferToBuffer(s.buffer, 0, staging, 0, bytes);
    this.flush();
    try {
      await staging.mapAsync(1 /* GPUMapMode.READ */);
    } catch (e) {
      this.check();
      throw e;
    }
    const out = new Float32Array(staging.getMappedRange().slice(0));
    staging.unmap();
    staging.destroy();
    this.throwIfError();
    return out;
  }

  readSync(_s: S): FloatArray {
    throw new Error("WebGPU storages cannot be read synchronously: use read() (await tensor.read())");
  }

  copy(dst: S, src: S, n = src.size, dstOff = 0, srcOff = 0): void {
    this.check();
    if (n === 0) return;
    if (dst.buffer === src.buffer) {
      const tmp = this.rawAlloc(bytesOf(n));
      this.enc().copyBufferToBuffer(src.buffer, srcOff * 4, tmp, 0, n * 4);
      this.enc().copyBufferToBuffer(tmp, 0, dst.buffer, dstOff * 4, n * 4);
      this.rawFree(tmp);
      return;
    }
    this.enc().copyBufferToBuffer(src.buffer, srcOff * 4, dst.buffer, dstOff * 4, n * 4);
  }

  fill(s: S, value: number): void {
    this.check();
    if (value === 0) this.enc().clearBuffer(s.buffer);
    else this.elementwise("fill", () => K.fill, [s], s.size, [value]);
  }

  // ------------------------------------------------------------ dispatch
  private pipeline(key: string, make: () => K.KernelSource): Pipeline {
    let p = this.pipelines.get(key);
    if (p) return p;
    const src = make();
    const layout = this.device.createBindGroupLayout({
      entries: src.bindings.map((m, i) => ({
        binding: i,
        visibility: 4 /* GPUShaderStage.COMPUTE */,
        buffer: { type: m === "u" ? "uniform" : m === "rw" ? "storage" : "read-only-storage" },
      })),
    });
    const module = this.device.createShaderModule({ code: src.code, label: key });
    const pipeline = this.device.createComputePipeline({
      label: key,
      layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: { module, entryPoint: "main" },
    });
    p = { pipeline, layout, src, module };
    this.pipelines.set(key, p);
    return p;
  }

  /** Record one kernel. `groups` is a workgroup count (laid out over x and y) or an explicit [x, y].
   *  WebGPU forbids a written buffer bound twice: an input that aliases an output is read from a
   *  copy, and a second output aliasing the first accumulates into a zeroed buffer added after
   *  (every kernel with two outputs accumulates). */
  private run(
    key: string,
    make: () => K.KernelSource,
    bufs: Buf[],
    values: number[],
    groups: number | [number, number],
  ): void {
    this.check();
    const [gx, gy] =
      typeof groups === "number" ? [Math.min(groups, MAX_GROUPS), Math.ceil(groups / MAX_GROUPS)] : groups;
    if (gx === 0 || gy === 0) return;
    // A full batch is submitted first, keeping alive the staging buffers uploaded for this kernel.
    if (this.paramSlots === BATCH) this.flush(new Set(bufs.map((b) => b.buffer)));
    const p = this.pipeline(key, make);
    const modes = p.src.bindings;
    const bound = bufs.map((b) => b.buffer);
    const post: [Buf, GPUBuffer][] = [];
    const temps: GPUBuffer[] = [];
    for (let i = 0; i < bufs.length; i++) {
      for (let j = 0; j < i; j++) {
        if (bufs[j].buffer !== bufs[i].buffer || (modes[j] !== "rw" && modes[i] !== "rw")) continue;
        const tmp = this.rawAlloc(bufs[i].buffer.size);
        temps.push(tmp);
        if (modes[i] === "rw") post.push([bufs[i], tmp]);
        else this.enc().copyBufferToBuffer(bufs[i].buffer, 0, tmp, 0, tmp.size);
        bound[i] = tmp;
        break;
      }
    }
    this.paramBuf ??= this.device.createBuffer({ size: BATCH * PARAM_BYTES, usage: UNIFORM | COPY_DST });
    const slot = this.paramSlots++;
    const base = (slot * PARAM_BYTES) / 4;
    p.src.fields.forEach((t, i) => {
      if (t === "f32") this.paramsF[base + i] = values[i];
      else this.paramsU[base + i] = values[i];
    });
    const bindGroup = this.device.createBindGroup({
      layout: p.layout,
      entries: [
        ...bound.map((buffer, i) => ({ binding: i, resource: { buffer } })),
        {
          binding: bound.length,
          resource: { buffer: this.paramBuf, offset: slot * PARAM_BYTES, size: PARAM_BYTES },
        },
      ],
    });
    const pass = this.enc().beginComputePass();
    pass.setPipeline(p.pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(gx, gy);
    pass.end();
    for (const [dst, tmp] of post) this.axpyRaw(dst, { buffer: tmp, size: dst.size }, 1);
    for (const t of temps) this.rawFree(t);
  }

  /** An elementwise kernel over n elements (256 per workgroup); values follow n in the uniform. */
  private elementwise(
    key: string,
    make: () => K.KernelSource,
    bufs: Buf[],
    n: number,
    values: number[] = [],
  ): void {
    this.run(key, make, bufs, [n, ...values], Math.ceil(n / 256));
  }

  private axpyRaw(y: Buf, x: Buf, alpha: number): void {
    this.elementwise("axpy", () => K.axpy, [y, x], y.size, [alpha]);
  }

  // ------------------------------------------------------------ elementwise
  unary(op: UnaryOp, out: S, a: S): void {
    this.elementwise(`unary.${op}`, () => K.unary(op), [out, a], out.size);
  }
  unaryBackward(op: UnaryOp, dA: S, a: S, y: S, dOut: S): void {
    this.elementwise(`unaryBackward.${op}`, () => K.unaryBackward(op), [dA, a, y, dOut], dA.size);
  }
  binary(op: BinaryOp, out: S, a: S, b: S): void {
    const bs = b.size === 1 && out.size !== 1 ? 1 : 0;
    this.elementwise(`binary.${op}`, () => K.binary(op), [out, a, b], out.size, [bs]);
  }
  binaryBackward(op: BinaryOp, dA: S | null, dB: S | null, a: S, b: S, dOut: S): void {
    const n = dOut.size;
    const bs = b.size === 1 && n !== 1;
    const wb = dB && !bs;
    if (dA || wb) {
      const dummy = this.dummy();
      this.elementwise(
        `binaryBackward.${op}`,
        () => K.binaryBackward(op),
        [dA ?? dummy, wb ? dB : dummy, a, b, dOut],
        n,
        [bs ? 1 : 0, dA ? 1 : 0, wb ? 1 : 0],
      );
    }
    if (dB && bs)
      this.run(`binaryBackwardScalar.${op}`, () => K.binaryBackwardScalar(op), [dB, a, b, dOut], [n], 1);
  }
  private dummyBuf: S | null = null;
  private dummy(): S {
    this.dummyBuf ??= this.alloc(1);
    return this.dummyBuf;
  }
  clamp(out: S, a: S, lo: number, hi: number): void {
    this.elementwise("clamp", () => K.clamp, [out, a], out.size, [lo, hi]);
  }
  clampBackward(dA: S, a: S, lo: number, hi: number, dOut: S): void {
    this.elementwise("clampBackward", () => K.clampBackward, [dA, a, dOut], dA.size, [lo, hi]);
  }
  affine(out: S, a: S, s: number, t: number): void {
    this.elementwise("affine", () => K.affine, [out, a], out.size, [s, t]);
  }
  axpy(y: S, x: S, alpha: number): void {
    this.axpyRaw(y, x, alpha);
  }
  sum(out: S, a: S, rows?: number, cols?: number): void {
    const r = rows ?? 1;
    const c = cols ?? a.size;
    this.run("sumRows", () => K.sumRows, [out, a], [r, c], r);
  }
  sumRowsAcc(out: S, a: S, rows: number, cols: number): void {
    this.elementwise("sumRowsAcc", () => K.sumRowsAcc, [out, a], cols, [rows]);
  }
  addRowVector(out: S, a: S, bias: S, rows: number, cols: number): void {
    this.elementwise("addRowVector", () => K.addRowVector, [out, a, bias], rows * cols, [cols]);
  }
  broadcastRows(out: S, s: S, rows: number, cols: number, accumulate: boolean): void {
    this.elementwise("broadcastRows", () => K.broadcastRows, [out, s], rows * cols, [
      cols,
      accumulate ? 1 : 0,
    ]);
  }
  sumSquares(_a: S): number {
    throw new Error("WebGPU: sumSquares is synchronous; use sumSquaresAsync");
  }
  /** Sum of squares over several storages with one read (gradient norms). */
  async sumSquaresAsync(list: S[]): Promise<number> {
    if (list.length === 0) return 0;
    const out = this.alloc(list.length);
    try {
      for (const [i, a] of list.entries())
        this.run("sumSquares", () => K.sumSquares, [out, a], [a.size, i], 1);
      const parts = await this.read(out);
      let s = 0;
      for (const x of parts) s += x;
      return s;
    } finally {
      this.free(out);
    }
  }

  // ------------------------------------------------------------ linear algebra
  matmul(C: S, A: S, B: S, { M, N, K: K_, transA, transB, accumulate }: MatmulShape): void {
    if (M === 0 || N === 0) return;
    const flags = [transA ? 1 : 0, transB ? 1 : 0, accumulate ? 1 : 0];
    this.run(
      "matmul",
      () => K.matmul,
      [C, A, B],
      [M, N, K_, ...flags],
      [Math.ceil(N / 64), Math.ceil(M / 64)],
    );
  }

  // ------------------------------------------------------------ transformer layers
  private checkIds(ids: Int32Array, table: S, dim: number): void {
    const V = table.size / dim;
    for (const id of ids)
      if (!(id >= 0 && id < V)) throw new Error(`token id ${id} outside vocabulary of ${V}`);
  }
  embedding(out: S, table: S, ids: Int32Array, dim: number): void {
    this.checkIds(ids, table, dim);
    if (ids.length === 0) return;
    const idb = { buffer: this.upload(ids), size: ids.length };
    this.elementwise("embedding", () => K.embedding, [out, table, idb], ids.length * dim, [dim]);
  }
  embeddingBackward(dTable: S, ids: Int32Array, dOut: S, dim: number): void {
    this.checkIds(ids, dTable, dim);
    if (ids.length === 0) return;
    const idb = { buffer: this.upload(ids), size: ids.length };
    this.elementwise("embeddingBackward", () => K.embeddingBackward, [dTable, idb, dOut], dim, [ids.length]);
  }
  rmsnorm(y: S, rstd: S, x: S, w: S, rows: number, dim: number, eps: number): void {
    this.run("rmsnorm", () => K.rmsnorm, [y, rstd, x, w], [rows, dim, eps], rows);
  }
  rmsnormBackward(dx: S, dw: S, dy: S, x: S, w: S, rstd: S, rows: number, dim: number): void {
    this.run("rmsnormBackwardX", () => K.rmsnormBackwardX, [dx, dy, x, w, rstd], [rows, dim], rows);
    this.elementwise("rmsnormBackwardW", () => K.rmsnormBackwardW, [dw, dy, x, rstd], dim, [rows]);
  }

  /** cos/sin of pos * invFreq for positions 0..needed-1, computed in float64 on the host, kept per (D, theta). */
  private ropeTable(D: number, theta: number, needed: number): { cos: GPUBuffer; sin: GPUBuffer } {
    const key = `${D}:${theta}`;
    const have = this.ropeTables.get(key);
    if (have && have.positions >= needed) return have;
    let positions = 64;
    while (positions < needed) positions *= 2;
    const half = D / 2;
    const inv = ropeInvFreq(D, theta);
    const c = new Float32Array(positions * half);
    const s = new Float32Array(positions * half);
    for (let p = 0; p < positions; p++)
      for (let i = 0; i < half; i++) {
        c[p * half + i] = Math.cos(p * inv[i]);
        s[p * half + i] = Math.sin(p * inv[i]);
      }
    const make = (data: Float32Array) => {
      const b = this.device.createBuffer({ size: data.byteLength, usage: STORAGE, mappedAtCreation: true });
      new Float32Array(b.getMappedRange()).set(data);
      b.unmap();
      return b;
    };
    if (have) this.transient.push(have.cos, have.sin); // pending kernels may still use the old table
    const table = { cos: make(c), sin: make(s), positions };
    this.ropeTables.set(key, table);
    return table;
  }

  rope(out: S, x: S, positions: Int32Array, { rows, H, D, theta, inverse }: RopeShape): void {
    if (rows === 0) return;
    let maxPos = 0;
    for (const p of positions) {
      if (p < 0) throw new Error(`rope: negative position ${p}`);
      if (p > maxPos) maxPos = p;
    }
    const table = this.ropeTable(D, theta, maxPos + 1);
    const pb = { buffer: this.upload(positions), size: positions.length };
    const cos = { buffer: table.cos, size: 0 };
    const sin = { buffer: table.sin, size: 0 };
    this.elementwise("rope", () => K.rope, [out, x, pb, cos, sin], (rows * H * D) / 2, [
      H,
      D,
      inverse ? -1 : 1,
    ]);
  }

  private attentionValues(sh: AttentionShape, scale: number): number[] {
    if (sh.D > 256) throw new Error(`WebGPU attention supports head dimensions up to 256, got ${sh.D}`);
    return [sh.B, sh.Tq, sh.Tk, sh.Hq, sh.Hkv, sh.D, scale];
  }

  attention(out: S, lse: S, q: S, k: S, v: S, shape: AttentionShape, pos0: Int32Array, scale: number): void {
    for (let b = 0; b < shape.B; b++)
      if (pos0[b] < 0 || pos0[b] + shape.Tq > shape.Tk)
        throw new Error(`attention: queries of sequence ${b} at ${pos0[b]}.. run past ${shape.Tk} keys`);
    const pb = { buffer: this.upload(pos0), size: pos0.length };
    const rows = shape.B * shape.Tq * shape.Hq;
    this.run(
      "attention",
      () => K.attention,
      [out, lse, q, k, v, pb],
      this.attentionValues(shape, scale),
      rows,
    );
  }

  attentionBackward(grads: AttentionGrads<S>, shape: AttentionShape, scale: number): void {
    const { dq, dk, dv, dOut, q, k, v, out, lse } = grads;
    const vals = this.attentionValues(shape, scale);
    const rows = shape.B * shape.Tq * shape.Hq;
    const delta = this.alloc(rows);
    this.elementwise("attentionDelta", () => K.attentionDelta, [delta, dOut, out], rows, [shape.D]);
    this.run("attentionBackwardQ", () => K.attentionBackwardQ, [dq, dOut, q, k, v, lse, delta], vals, rows);
    const keyRows = shape.B * shape.Tk * shape.Hkv;
    this.run(
      "attentionBackwardKV",
      () => K.attentionBackwardKV,
      [dk, dv, dOut, q, k, v, lse, delta],
      vals,
      keyRows,
    );
    this.free(delta);
  }

  swiglu(out: S, gate: S, up: S): void {
    this.elementwise("swiglu", () => K.swiglu, [out, gate, up], out.size);
  }
  swigluBackward(dGate: S, dUp: S, gate: S, up: S, dOut: S): void {
    this.elementwise("swigluBackward", () => K.swigluBackward, [dGate, dUp, gate, up, dOut], dOut.size);
  }

  // ------------------------------------------------------------ vocabulary statistics
  tokenStats(out: S, lse: S, logits: S, targets: Int32Array, N: number, V: number): void {
    if (N === 0) return;
    const tb = { buffer: this.upload(targets), size: targets.length };
    this.run("tokenStats", () => K.tokenStats, [out, lse, logits, tb], [N, V], N);
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
    if (N === 0) return;
    const tb = { buffer: this.upload(targets), size: targets.length };
    this.run("tokenStatsBackward", () => K.tokenStatsBackward, [dLogits, dOut, logits, lse, tb], [N, V], N);
  }

  // ------------------------------------------------------------ optimiser
  adamw(param: S, grad: S, m: S, v: S, { lr, beta1, beta2, eps, weightDecay, step }: AdamWStep): void {
    const bc1 = 1 - beta1 ** step;
    const bc2 = 1 - beta2 ** step;
    this.elementwise("adamw", () => K.adamw, [param, m, v, grad], param.size, [
      lr,
      beta1,
      beta2,
      eps,
      weightDecay,
      bc1,
      bc2,
    ]);
  }
}

/** A WebGPU backend on the best adapter (see requestGpu for the software-adapter policy). */
export async function createWebGpuBackend(opts: { allowSoftware: boolean }): Promise<WebGpuBackend> {
  const { requestGpu } = await import("./device.ts");
  return new WebGpuBackend(await requestGpu(opts));
}
