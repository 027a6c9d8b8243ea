// The CPU backend: storages are typed arrays, kernels are the TypeScript references.
// In float64 it is the reference for gradient checks; in float32 it is the portable backend and
// the fallback that the WebAssembly backend (wasm-backend.ts) calls, op by op, where its table of
// routes says so.

import type {
  AdamWStep,
  AttentionGrads,
  AttentionShape,
  Backend,
  BinaryOp,
  DType,
  FloatArray,
  MatmulShape,
  RopeShape,
  Storage,
  UnaryOp,
} from "../../backend.ts";
import { REFERENCE_ROUTES } from "../../routes.ts";
import * as ref from "./reference.ts";

export class CpuStorage implements Storage {
  constructor(public data: FloatArray) {}
  get size(): number {
    return this.data.length;
  }
}

type S = CpuStorage;

export class CpuBackend implements Backend<CpuStorage> {
  readonly name: string;
  readonly routes = REFERENCE_ROUTES;
  constructor(readonly dtype: DType = "f32") {
    this.name = `cpu-js-${dtype}`;
  }

  alloc(size: number): S {
    return new CpuStorage(this.dtype === "f64" ? new Float64Array(size) : new Float32Array(size));
  }
  free(_s: S): void {}
  write(s: S, data: ArrayLike<number>, offset = 0): void {
    s.data.set(data, offset);
  }
  async read(s: S): Promise<FloatArray> {
    return s.data;
  }
  readSync(s: S): FloatArray {
    return s.data;
  }
  copy(dst: S, src: S, n = src.size, dstOff = 0, srcOff = 0): void {
    dst.data.set(src.data.subarray(srcOff, srcOff + n), dstOff);
  }
  fill(s: S, value: number): void {
    s.data.fill(value);
  }

  unary(op: UnaryOp, out: S, a: S): void {
    ref.unary(op, out.data, a.data);
  }
  unaryBackward(op: UnaryOp, dA: S, a: S, y: S, dOut: S): void {
    ref.unaryBackward(op, dA.data, a.data, y.data, dOut.data);
  }
  binary(op: BinaryOp, out: S, a: S, b: S): void {
    ref.binary(op, out.data, a.data, b.data);
  }
  binaryBackward(op: BinaryOp, dA: S | null, dB: S | null, a: S, b: S, dOut: S): void {
    ref.binaryBackward(op, dA?.data ?? null, dB?.data ?? null, a.data, b.data, dOut.data);
  }
  clamp(out: S, a: S, lo: number, hi: number): void {
    ref.clamp(out.data, a.data, lo, hi);
  }
  clampBackward(dA: S, a: S, lo: number, hi: number, dOut: S): void {
    ref.clampBackward(dA.data, a.data, lo, hi, dOut.data);
  }
  affine(out: S, a: S, s: number, t: number): void {
    const o = out.data;
    const x = a.data;
    for (let i = 0; i < o.length; i++) o[i] = x[i] * s + t;
  }
  axpy(y: S, x: S, alpha: number): void {
    const yd = y.data;
    const xd = x.data;
    for (let i = 0; i < yd.length; i++) yd[i] += alpha * xd[i];
  }
  sum(out: S, a: S, rows?: number, cols?: number): void {
    if (rows === undefined || cols === undefined) ref.sumRows(out.data, a.data, 1, a.size);
    else ref.sumRows(out.data, a.data, rows, cols);
  }
  sumRowsAcc(out: S, a: S, rows: number, cols: number): void {
    ref.sumRowsAcc(out.data, a.data, rows, cols);
  }
  addRowVector(out: S, a: S, bias: S, rows: number, cols: number): void {
    ref.addRowVector(out.data, a.data, bias.data, rows, cols);
  }
  broadcastRows(out: S, s: S, rows: number, cols: number, accumulate: boolean): void {
    ref.broadcastRows(out.data, s.data, rows, cols, accumulate);
  }
  sumSquares(a: S): number {
    let s = 0;
    const d = a.data;
    for (let i = 0; i < d.length; i++) s += d[i] * d[i];
    return s;
  }

  matmul(C: S, A: S, B: S, shape: MatmulShape): void {
    ref.matmul(C.data, A.data, B.data, shape);
  }

  embedding(out: S, table: S, ids: Int32Array, dim: number): void {
    ref.embedding(out.data, table.data, ids, dim);
  }
  embeddingBackward(dTable: S, ids: Int32Array, dOut: S, dim: number): void {
    ref.embeddingBackward(dTable.data, ids, dOut.data, dim);
  }
  rmsnorm(y: S, rstd: S, x: S, w: S, rows: number, dim: number, eps: number): void {
    ref.rmsnorm(y.data, rstd.data, x.data, w.data, rows, dim, eps);
  }
  rmsnormBackward(dx: S, dw: S, dy: S, x: S, w: S, rstd: S, rows: number, dim: number): void {
    ref.rmsnormBackward(dx.data, dw.data, dy.data, x.data, w.data, rstd.data, rows, dim);
  }
  rope(out: S, x: S, positions: Int32Array, shape: RopeShape): void {
    ref.rope(out.data, x.data, positions, shape);
  }
  attention(out: S, lse: S, q: S, k: S, v: S, shape: AttentionShape, pos0: Int32Array, scale: number): void {
    ref.attention(out.data, lse.data, q.data, k.data, v.data, shape, pos0, scale);
  }
  attentionBackward(grads: AttentionGrads<S>, shape: AttentionShape, scale: number): void {
    const { dq, dk, dv, dOut, q, k, v, out, lse } = grads;
    const data = {
      dq: dq.data,
      dk: dk.data,
      dv: dv.data,
      dOut: dOut.data,
      q: q.data,
      k: k.data,
      v: v.data,
      out: out.data,
      lse: lse.data,
    };
    ref.attentionBackward(data, shape, scale);
  }
  swiglu(out: S, gate: S, up: S): void {
    ref.swiglu(out.data, gate.data, up.data);
  }
  swigluBackward(dGate: S, dUp: S, gate: S, up: S, dOut: S): void {
    ref.swigluBackward(dGate.data, dUp.data, gate.data, up.data, dOut.data);
  }
  tokenStats(out: S, lse: S, logits: S, targets: Int32Array, N: number, V: number): void {
    ref.tokenStats(out.data, lse.data, logits.data, targets, N, V);
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
    ref.tokenStatsBackward(dLogits.data, dOut.data, logits.data, lse.data, targets, N, V);
  }
  adamw(param: S, grad: S, m: S, v: S, hp: AdamWStep): void {
    ref.adamw(param.data, grad.data, m.data, v.data, hp);
  }
}
