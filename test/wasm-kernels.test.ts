// Each wasm kernel against the float64 reference backend, on random inputs of awkward sizes
// (not multiples of the SIMD width or of the matmul blocking, size 1, all transposes, accumulate),
// within float32 tolerance.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import type { AttentionShape, BinaryOp, UnaryOp } from "../src/engine/backend.ts";
import { CpuBackend, type CpuStorage } from "../src/engine/backends/cpu/backend.ts";
import { WasmBackend } from "../src/engine/backends/cpu/wasm-backend.ts";

const ref = new CpuBackend("f64");
const wb = new WasmBackend({ threads: 1 });
after(() => wb.dispose());

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}
const rand = rng(12345);
function randn(n: number, scale = 1): Float64Array {
  const a = new Float64Array(n);
  for (let i = 0; i < n; i++) a[i] = (rand() * 2 - 1) * scale;
  return a;
}

/** The same values on both backends (the f64 copy holds the float32-rounded values). */
function pair(values: Float64Array): [CpuStorage, CpuStorage] {
  const w = wb.alloc(values.length);
  wb.write(w, values);
  const r = ref.alloc(values.length);
  ref.write(r, w.data);
  return [r, w];
}
function close(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  atol: number,
  rtol: number,
  what: string,
) {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i];
    const a = actual[i];
    if (!(Math.abs(a - e) <= atol + rtol * Math.abs(e)))
      assert.fail(`${what}: element ${i} is ${a}, reference ${e}`);
  }
}

describe("wasm matmul", () => {
  const shapes: [number, number, number][] = [
    [1, 1, 1],
    [1, 9, 3],
    [7, 13, 5],
    [6, 8, 4],
    [13, 1, 17],
    [19, 11, 300], // K spans two KC blocks
    [5, 270, 3], // N spans two NC blocks
    [33, 17, 0], // empty K: C = 0 (or unchanged when accumulating)
  ];
  for (const [M, N, K] of shapes)
    for (const transA of [false, true])
      for (const transB of [false, true])
        for (const acc of [false, true])
          it(`[${M}x${K}]x[${K}x${N}] transA=${transA} transB=${transB} accumulate=${acc}`, () => {
            const [ra, wa] = pair(randn(M * K));
            const [rbm, wbm] = pair(randn(K * N));
            const [rc, wc] = pair(randn(M * N));
            ref.matmul(rc, ra, rbm, { M, N, K, transA, transB, accumulate: acc });
            wb.matmul(wc, wa, wbm, { M, N, K, transA, transB, accumulate: acc });
            close(wc.data, rc.data, 1e-5 * (K + 1), 1e-5, "C");
          });
});

describe("wasm attention", () => {
  function fwd(sh: AttentionShape, pos0: number[]) {
    const { B, Tq, Tk, Hq, Hkv, D } = sh;
    const [rq, wq] = pair(randn(B * Tq * Hq * D));
    const [rk, wk] = pair(randn(B * Tk * Hkv * D));
    const [rv, wv] = pair(randn(B * Tk * Hkv * D));
    const [ro, wo] = pair(randn(B * Tq * Hq * D)); // garbage that must be overwritten
    const [rl, wl] = pair(randn(B * Hq * Tq));
    const p0 = Int32Array.from(pos0);
    const scale = 1 / Math.sqrt(D);
    ref.attention(ro, rl, rq, rk, rv, sh, p0, scale);
    wb.attention(wo, wl, wq, wk, wv, sh, p0, scale);
    close(wo.data, ro.data, 2e-5, 1e-4, "out");
    close(wl.data, rl.data, 2e-5, 1e-5, "lse");
    return { rq, wq, rk, wk, rv, wv, ro, wo, rl, wl, scale };
  }
  it("training shapes, grouped heads (B=2 T=7 Hq=4 Hkv=2 D=12)", () => {
    fwd({ B: 2, Tq: 7, Tk: 7, Hq: 4, Hkv: 2, D: 12 }, [0, 0]);
  });
  it("one token, one head (D=4)", () => {
    fwd({ B: 1, Tq: 1, Tk: 1, Hq: 1, Hkv: 1, D: 4 }, [0]);
  });
  it("longer rows than one key block (T=37, D=8, Hq=3 Hkv=1)", () => {
    fwd({ B: 3, Tq: 37, Tk: 37, Hq: 3, Hkv: 1, D: 8 }, [0, 0, 0]);
  });
  it("KV-cache decoding: Tq=1 into a cache of 9 with pos0 = 3 and 8", () => {
    fwd({ B: 2, Tq: 1, Tk: 9, Hq: 2, Hkv: 1, D: 8 }, [3, 8]);
  });
  it("KV-cache decoding: Tq=1, head size 36, positions 0, 6 and 14 in a cache of 15", () => {
    fwd({ B: 3, Tq: 1, Tk: 15, Hq: 6, Hkv: 2, D: 36 }, [0, 6, 14]);
  });
  it("decoding a chunk of 3 queries at pos0 = 0 and 5 in a cache of 8", () => {
    fwd({ B: 2, Tq: 3, Tk: 8, Hq: 4, Hkv: 2, D: 16 }, [0, 5]);
  });
  it("falls back to the reference for D not a multiple of 4", () => {
    fwd({ B: 2, Tq: 5, Tk: 5, Hq: 2, Hkv: 2, D: 6 }, [0, 0]);
  });

  for (const sh of [
    { B: 2, Tq: 9, Tk: 9, Hq: 6, Hkv: 2, D: 8 },
    { B: 1, Tq: 1, Tk: 1, Hq: 1, Hkv: 1, D: 4 },
    { B: 2, Tq: 21, Tk: 21, Hq: 2, Hkv: 2, D: 12 },
  ])
    it(`backward B=${sh.B} T=${sh.Tq} Hq=${sh.Hq} Hkv=${sh.Hkv} D=${sh.D}`, () => {
      const f = fwd(sh, new Array(sh.B).fill(0));
      const nq = sh.B * sh.Tq * sh.Hq * sh.D;
      const nk = sh.B * sh.Tk * sh.Hkv * sh.D;
      const [rg, wg] = pair(randn(nq));
      // Accumulation: gradients start non-zero.
      const [rdq, wdq] = pair(randn(nq));
      const [rdk, wdk] = pair(randn(nk));
      const [rdv, wdv] = pair(randn(nk));
      // The f32 forward output and lse feed both backwards, so only the backward is compared.
      ref.write(f.ro, f.wo.data);
      ref.write(f.rl, f.wl.data);
      ref.attentionBackward(
        { dq: rdq, dk: rdk, dv: rdv, dOut: rg, q: f.rq, k: f.rk, v: f.rv, out: f.ro, lse: f.rl },
        sh,
        f.scale,
      );
      wb.attentionBackward(
        { dq: wdq, dk: wdk, dv: wdv, dOut: wg, q: f.wq, k: f.wk, v: f.wv, out: f.wo, lse: f.wl },
        sh,
        f.scale,
      );
      close(wdq.data, rdq.data, 1e-4, 1e-4, "dq");
      close(wdk.data, rdk.data, 1e-4, 1e-4, "dk");
      close(wdv.data, rdv.data, 1e-4, 1e-4, "dv");
    });
});

describe("wasm tokenStats", () => {
  for (const [N, V] of [
    [1, 1],
    [3, 3],
    [6, 37],
    [4, 513],
    [2, 5003],
  ])
    it(`forward and backward N=${N} V=${V}`, () => {
      // The large vocabulary gets logits far from 0, where a float32 mean would lose digits.
      const [rz, wz] = pair(randn(N * V, 4).map((v) => (V > 1000 ? v + 30 : v)));
      const targets = Int32Array.from({ length: N }, (_, r) => (r === 1 ? -1 : (r * 7) % V));
      const [ro, wo] = pair(randn(N * 3));
      const [rl, wl] = pair(randn(N));
      ref.tokenStats(ro, rl, rz, targets, N, V);
      wb.tokenStats(wo, wl, wz, targets, N, V);
      close(wo.data, ro.data, 2e-5, 1e-4, "stats");
      close(wl.data, rl.data, 2e-5, 1e-5, "lse");
      const g = randn(N * 3);
      if (N > 2) g.fill(0, 6, 9); // a row with no gradient at all
      const [rg, wg] = pair(g);
      const [rd, wd] = pair(randn(N * V));
      ref.write(rl, wl.data);
      ref.tokenStatsBackward(rd, rg, rz, rl, targets, N, V);
      wb.tokenStatsBackward(wd, wg, wz, wl, targets, N, V);
      close(wd.data, rd.data, 2e-5, 1e-4, "dLogits");
    });
});

describe("wasm row and elementwise kernels", () => {
  for (const [rows, dim] of [
    [1, 1],
    [5, 7],
    [3, 13],
    [9, 64],
  ])
    it(`rmsnorm forward and backward ${rows}x${dim}`, () => {
      const [rx, wx] = pair(randn(rows * dim));
      const [rw, ww] = pair(randn(dim));
      const [ry, wy] = pair(randn(rows * dim));
      const [rr, wr] = pair(randn(rows));
      ref.rmsnorm(ry, rr, rx, rw, rows, dim, 1e-6);
      wb.rmsnorm(wy, wr, wx, ww, rows, dim, 1e-6);
      close(wy.data, ry.data, 1e-5, 1e-5, "y");
      close(wr.data, rr.data, 1e-5, 1e-5, "rstd");
      const [rg, wg] = pair(randn(rows * dim));
      const [rdx, wdx] = pair(randn(rows * dim));
      const [rdw, wdw] = pair(randn(dim));
      ref.write(rr, wr.data);
      ref.rmsnormBackward(rdx, rdw, rg, rx, rw, rr, rows, dim);
      wb.rmsnormBackward(wdx, wdw, wg, wx, ww, wr, rows, dim);
      close(wdx.data, rdx.data, 1e-5, 1e-4, "dx");
      close(wdw.data, rdw.data, 1e-5, 1e-4, "dw");
    });
  for (const n of [1, 7, 4099])
    it(`swiglu, adamw and axpy over ${n} elements`, () => {
      const [rgate, wgate] = pair(randn(n, 6));
      const [rup, wup] = pair(randn(n));
      const [ro, wo] = pair(randn(n));
      ref.swiglu(ro, rgate, rup);
      wb.swiglu(wo, wgate, wup);
      close(wo.data, ro.data, 1e-6, 1e-5, "swiglu");
      const [rd, wd] = pair(randn(n));
      const [rdg, wdg] = pair(randn(n));
      const [rdu, wdu] = pair(randn(n));
      ref.swigluBackward(rdg, rdu, rgate, rup, rd);
      wb.swigluBackward(wdg, wdu, wgate, wup, wd);
      close(wdg.data, rdg.data, 1e-6, 1e-5, "dGate");
      close(wdu.data, rdu.data, 1e-6, 1e-5, "dUp");
      const [rp, wp] = pair(randn(n));
      const [rm, wm] = pair(randn(n, 0.1));
      const vv = randn(n).map((x) => x * x);
      const [rv, wv] = pair(vv);
      ref.adamw(rp, rd, rm, rv, { lr: 1e-3, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1, step: 3 });
      wb.adamw(wp, wd, wm, wv, { lr: 1e-3, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1, step: 3 });
      close(wp.data, rp.data, 1e-6, 1e-5, "param");
      close(wm.data, rm.data, 1e-6, 1e-5, "m");
      close(wv.data, rv.data, 1e-6, 1e-5, "v");
      ref.axpy(rp, rd, -0.7);
      wb.axpy(wp, wd, -0.7);
      close(wp.data, rp.data, 1e-6, 1e-5, "axpy");
    });
});

describe("wasm elementwise, broadcast and lookup kernels", () => {
  const binOps: BinaryOp[] = ["add", "sub", "mul", "div", "min", "max"];
  const unOps: UnaryOp[] = ["neg", "exp", "log", "square", "sqrt", "relu", "sigmoid", "silu", "abs"];
  for (const n of [1, 7, 1027])
    it(`binary ops and their gradients over ${n} elements (with ties, and a broadcast scalar)`, () => {
      for (const op of binOps) {
        const x = randn(n, 3);
        const y = randn(n, 3).map((v) => (Math.abs(v) < 0.1 ? 0.5 : v));
        if (n > 3) y[2] = x[2]; // a tie for min/max
        const [ra, wa] = pair(x);
        const [rb, wbb] = pair(y);
        const [ro, wo] = pair(randn(n));
        ref.binary(op, ro, ra, rb);
        wb.binary(op, wo, wa, wbb);
        close(wo.data, ro.data, 1e-6, 1e-6, `${op}`);
        const [rs, ws] = pair(Float64Array.of(0.7));
        ref.binary(op, ro, ra, rs);
        wb.binary(op, wo, wa, ws);
        close(wo.data, ro.data, 1e-6, 1e-6, `${op} scalar`);
        const [rg, wg] = pair(randn(n));
        const [rda, wda] = pair(randn(n));
        const [rdb, wdb] = pair(randn(n));
        ref.binaryBackward(op, rda, rdb, ra, rb, rg);
        wb.binaryBackward(op, wda, wdb, wa, wbb, wg);
        close(wda.data, rda.data, 1e-6, 1e-5, `${op} dA`);
        close(wdb.data, rdb.data, 1e-6, 1e-5, `${op} dB`);
        ref.binaryBackward(op, null, rdb, ra, rb, rg);
        wb.binaryBackward(op, null, wdb, wa, wbb, wg);
        close(wdb.data, rdb.data, 1e-6, 1e-5, `${op} dB only`);
      }
    });
  for (const n of [1, 6, 1029])
    it(`unary ops and their gradients over ${n} elements`, () => {
      for (const op of unOps) {
        const x = randn(n, 4);
        if (op === "log" || op === "sqrt") for (let i = 0; i < n; i++) x[i] = Math.abs(x[i]) + 0.1;
        const [ra, wa] = pair(x);
        const [ry, wy] = pair(randn(n));
        ref.unary(op, ry, ra);
        wb.unary(op, wy, wa);
        close(wy.data, ry.data, 1e-6, 2e-6, op);
        const [rg, wg] = pair(randn(n));
        const [rd, wd] = pair(randn(n));
        ref.write(ry, wy.data);
        ref.unaryBackward(op, rd, ra, ry, rg);
        wb.unaryBackward(op, wd, wa, wy, wg);
        close(wd.data, rd.data, 1e-6, 1e-5, `${op} backward`);
      }
    });
  it("exp overflows to +Infinity and underflows to 0 like float32", () => {
    const [ra, wa] = pair(Float64Array.of(89, -104, 88.5, -87, 0, 1, 2, -1, 80, 88.7, 88.1));
    const [ry, wy] = pair(new Float64Array(11));
    ref.unary("exp", ry, ra);
    wb.unary("exp", wy, wa);
    assert.equal(wy.data[0], Number.POSITIVE_INFINITY);
    assert.equal(wy.data[1], 0);
    close(wy.data.subarray(2), Float32Array.from(ry.data.subarray(2)), 0, 3e-7, "exp");
  });
  for (const [rows, cols] of [
    [1, 1],
    [5, 7],
    [33, 130],
  ])
    it(`affine, sums and row broadcasts ${rows}x${cols}`, () => {
      const [ra, wa] = pair(randn(rows * cols));
      const [ro, wo] = pair(randn(rows * cols));
      ref.affine(ro, ra, -1.5, 0.25);
      wb.affine(wo, wa, -1.5, 0.25);
      close(wo.data, ro.data, 1e-6, 1e-6, "affine");
      const [rs, ws] = pair(randn(rows));
      ref.sum(rs, ra, rows, cols);
      wb.sum(ws, wa, rows, cols);
      close(ws.data, rs.data, 1e-6, 1e-6, "sum rows");
      const [r1, w1] = pair(randn(1));
      ref.sum(r1, ra);
      wb.sum(w1, wa);
      close(w1.data, r1.data, 1e-6, 1e-6, "sum");
      close([wb.sumSquares(wa)], [ref.sumSquares(ra)], 1e-9, 1e-9, "sumSquares");
      const [rc, wc] = pair(randn(cols));
      ref.sumRowsAcc(rc, ra, rows, cols);
      wb.sumRowsAcc(wc, wa, rows, cols);
      close(wc.data, rc.data, 1e-5, 1e-5, "sumRowsAcc");
      ref.addRowVector(ro, ra, rc, rows, cols);
      wb.addRowVector(wo, wa, wc, rows, cols);
      close(wo.data, ro.data, 1e-6, 1e-6, "addRowVector");
      for (const acc of [false, true]) {
        ref.broadcastRows(ro, rs, rows, cols, acc);
        wb.broadcastRows(wo, ws, rows, cols, acc);
        close(wo.data, ro.data, 1e-6, 1e-6, `broadcastRows accumulate=${acc}`);
      }
    });
  for (const [rows, H, D] of [
    [1, 1, 8],
    [7, 3, 16],
    [5, 2, 6], // D/2 not a multiple of 4: the reference runs
  ])
    it(`rope forward and inverse, ${rows} rows x ${H} heads x ${D}`, () => {
      const pos = Int32Array.from({ length: rows }, (_, i) => (i * 37) % 301);
      const [rx, wx] = pair(randn(rows * H * D));
      const [ro, wo] = pair(randn(rows * H * D));
      for (const inverse of [false, true]) {
        ref.rope(ro, rx, pos, { rows, H, D, theta: 10000, inverse });
        wb.rope(wo, wx, pos, { rows, H, D, theta: 10000, inverse });
        close(wo.data, ro.data, 2e-6, 1e-5, `rope inverse=${inverse}`);
      }
      // Positions past the cached table make it grow.
      const far = Int32Array.from({ length: rows }, (_, i) => 5000 + i);
      ref.rope(ro, rx, far, { rows, H, D, theta: 10000 });
      wb.rope(wo, wx, far, { rows, H, D, theta: 10000 });
      close(wo.data, ro.data, 2e-6, 1e-5, "rope far positions");
      // Llama 3 frequency scaling: its own cached table, the same rotation as the reference.
      const scaling = { factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 64 };
      ref.rope(ro, rx, pos, { rows, H, D, theta: 10000, scaling });
      wb.rope(wo, wx, pos, { rows, H, D, theta: 10000, scaling });
      close(wo.data, ro.data, 2e-6, 1e-5, "rope llama3 scaling");
      wb.rope(wo, wx, pos, { rows, H, D, theta: 10000 });
      assert.ok(
        rows === 1 || wo.data.some((v, i) => Math.abs(v - ro.data[i]) > 1e-3),
        "scaled table reused unscaled",
      );
    });
  it("embedding lookup and its gradient with repeated ids; bad ids are an error", () => {
    const V = 11;
    const dim = 6;
    const ids = Int32Array.of(3, 0, 10, 3, 3, 7, 0);
    const [rt, wt] = pair(randn(V * dim));
    const [ro, wo] = pair(randn(ids.length * dim));
    ref.embedding(ro, rt, ids, dim);
    wb.embedding(wo, wt, ids, dim);
    close(wo.data, ro.data, 0, 0, "embedding");
    const [rg, wg] = pair(randn(ids.length * dim));
    ref.embeddingBackward(rt, ids, rg, dim);
    wb.embeddingBackward(wt, ids, wg, dim);
    close(wt.data, rt.data, 1e-6, 1e-6, "embeddingBackward");
    assert.throws(() => wb.embedding(wo, wt, Int32Array.of(11), dim), /id 11 outside/);
    assert.throws(() => wb.embedding(wo, wt, Int32Array.of(-1), dim), /id -1 outside/);
  });
});
