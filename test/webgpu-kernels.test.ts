// Each WebGPU kernel against the float64 reference backend, forward and backward, within float32
// tolerance, on awkward sizes (several 64-wide tiles and key chunks, head dims above 64, grouped KV
// heads, vocabularies above one workgroup). Runs on SwiftShader where there is no GPU (CI).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { AttentionShape, BinaryOp, UnaryOp } from "../src/engine/backend.ts";
import { CpuBackend, type CpuStorage } from "../src/engine/backends/cpu/backend.ts";
import type { GpuStorage, WebGpuBackend } from "../src/engine/backends/webgpu/backend.ts";
import { skipWebGpu, testGpuBackend } from "./helpers/webgpu.ts";

const ref = new CpuBackend("f64");
let gb: WebGpuBackend;
before(async () => {
  if (!skipWebGpu) gb = await testGpuBackend();
});
after(() => gb?.dispose());

let seed = 987654321;
function randn(n: number, scale = 1): Float64Array {
  const a = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    a[i] = (seed / 2 ** 32 - 0.5) * 2 * scale;
  }
  return a;
}

/** The same (float32-rounded) values on both backends. */
function pair(values: ArrayLike<number>): [CpuStorage, GpuStorage] {
  const f = Float32Array.from(values);
  const r = ref.alloc(f.length);
  ref.write(r, f);
  const g = gb.alloc(f.length);
  gb.write(g, f);
  return [r, g];
}

async function close(
  g: GpuStorage,
  r: CpuStorage | ArrayLike<number>,
  atol: number,
  rtol: number,
  what: string,
) {
  const actual = await gb.read(g);
  const expected = "data" in r ? r.data : r;
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i];
    const a = actual[i];
    if (!(Math.abs(a - e) <= atol + rtol * Math.abs(e)))
      assert.fail(`${what}: element ${i} is ${a}, reference ${e}`);
  }
}

/** Copy the GPU's values into the reference storage (to compare a backward on the same inputs). */
async function sync(r: CpuStorage, g: GpuStorage) {
  ref.write(r, await gb.read(g));
}

const describeGpu = skipWebGpu ? describe.skip : describe;

describeGpu("webgpu elementwise kernels", () => {
  const unOps: UnaryOp[] = ["neg", "exp", "log", "square", "sqrt", "relu", "sigmoid", "silu", "abs"];
  const binOps: BinaryOp[] = ["add", "sub", "mul", "div", "min", "max"];
  it("unary ops and their gradients", async () => {
    const n = 300;
    for (const op of unOps) {
      const x = randn(n, 4);
      if (op === "log" || op === "sqrt") for (let i = 0; i < n; i++) x[i] = Math.abs(x[i]) + 0.1;
      const [ra, ga] = pair(x);
      const [ry, gy] = pair(randn(n));
      ref.unary(op, ry, ra);
      gb.unary(op, gy, ga);
      await close(gy, ry, 1e-6, 2e-6, op);
      await sync(ry, gy);
      const [rg, gg] = pair(randn(n));
      const [rd, gd] = pair(randn(n));
      ref.unaryBackward(op, rd, ra, ry, rg);
      gb.unaryBackward(op, gd, ga, gy, gg);
      await close(gd, rd, 1e-6, 1e-5, `${op} backward`);
    }
  });
  it("binary ops and their gradients, with ties, a broadcast scalar, and aliased operands", async () => {
    const n = 290;
    for (const op of binOps) {
      const x = randn(n, 3);
      const y = randn(n, 3).map((v) => (Math.abs(v) < 0.1 ? 0.5 : v));
      y[2] = x[2];
      const [ra, ga] = pair(x);
      const [rb, gbb] = pair(y);
      const [ro, go] = pair(randn(n));
      ref.binary(op, ro, ra, rb);
      gb.binary(op, go, ga, gbb);
      await close(go, ro, 1e-6, 1e-6, op);
      const [rs, gs] = pair([0.7]);
      ref.binary(op, ro, ra, rs);
      gb.binary(op, go, ga, gs);
      await close(go, ro, 1e-6, 1e-6, `${op} scalar`);
      const [rg, gg] = pair(randn(n));
      const [rda, gda] = pair(randn(n));
      const [rdb, gdb] = pair(randn(n));
      ref.binaryBackward(op, rda, rdb, ra, rb, rg);
      gb.binaryBackward(op, gda, gdb, ga, gbb, gg);
      await close(gda, rda, 1e-6, 1e-5, `${op} dA`);
      await close(gdb, rdb, 1e-6, 1e-5, `${op} dB`);
      ref.binaryBackward(op, null, rdb, ra, rb, rg);
      gb.binaryBackward(op, null, gdb, ga, gbb, gg);
      await close(gdb, rdb, 1e-6, 1e-5, `${op} dB only`);
      const [rds, gds] = pair([0.3]);
      ref.binaryBackward(op, rda, rds, ra, rs, rg);
      gb.binaryBackward(op, gda, gds, ga, gs, gg);
      await close(gda, rda, 1e-6, 1e-5, `${op} dA (scalar b)`);
      await close(gds, rds, 1e-4, 1e-5, `${op} dB (scalar b)`);
      // x op x: both gradients land in one buffer (WebGPU forbids binding it twice for writing).
      ref.binaryBackward(op, rda, rda, ra, ra, rg);
      gb.binaryBackward(op, gda, gda, ga, ga, gg);
      await close(gda, rda, 1e-6, 1e-5, `${op} dA = dB`);
    }
  });
  it("clamp, affine (in place), axpy, fill and copy", async () => {
    const n = 333;
    const [ra, ga] = pair(randn(n, 2));
    const [ro, go] = pair(randn(n));
    ref.clamp(ro, ra, -0.5, 0.8);
    gb.clamp(go, ga, -0.5, 0.8);
    await close(go, ro, 0, 1e-7, "clamp"); // the bounds are rounded to float32
    const [rg, gg] = pair(randn(n));
    ref.clampBackward(ro, ra, -0.5, 0.8, rg);
    gb.clampBackward(go, ga, -0.5, 0.8, gg);
    await close(go, ro, 1e-6, 1e-6, "clampBackward");
    ref.affine(ra, ra, -1.5, 0.25);
    gb.affine(ga, ga, -1.5, 0.25);
    await close(ga, ra, 1e-6, 1e-6, "affine in place");
    await sync(ra, ga); // copies below compare exactly
    ref.axpy(ro, rg, -0.7);
    gb.axpy(go, gg, -0.7);
    await close(go, ro, 1e-6, 1e-6, "axpy");
    ref.fill(ro, 2.5);
    gb.fill(go, 2.5);
    await close(go, ro, 0, 0, "fill");
    ref.copy(ro, ra, 100, 7, 30);
    gb.copy(go, ga, 100, 7, 30);
    await close(go, ro, 0, 0, "copy with offsets");
    ref.copy(ro, ro, 50, 0, 20);
    gb.copy(go, go, 50, 0, 20);
    await close(go, ro, 0, 0, "copy within one buffer");
  });
  it("sums, row broadcasts and gradient norms", async () => {
    const rows = 33;
    const cols = 300;
    const [ra, ga] = pair(randn(rows * cols));
    const [rs, gs] = pair(randn(rows));
    ref.sum(rs, ra, rows, cols);
    gb.sum(gs, ga, rows, cols);
    await close(gs, rs, 1e-5, 1e-5, "sum rows");
    const [r1, g1] = pair([9]);
    ref.sum(r1, ra);
    gb.sum(g1, ga);
    await close(g1, r1, 1e-4, 1e-5, "sum");
    const [rb, gbv] = pair(randn(cols));
    const ss = ref.sumSquares(ra) + ref.sumSquares(rb);
    const got = await gb.sumSquaresAsync([ga, gbv]);
    assert.ok(Math.abs(got - ss) <= 1e-5 * ss, `sumSquares ${got} vs ${ss}`);
    ref.sumRowsAcc(rb, ra, rows, cols);
    gb.sumRowsAcc(gbv, ga, rows, cols);
    await close(gbv, rb, 1e-5, 1e-5, "sumRowsAcc");
    const [ro, go] = pair(randn(rows * cols));
    ref.addRowVector(ro, ra, rb, rows, cols);
    gb.addRowVector(go, ga, gbv, rows, cols);
    await close(go, ro, 1e-6, 1e-6, "addRowVector");
    for (const acc of [false, true]) {
      ref.broadcastRows(ro, rs, rows, cols, acc);
      gb.broadcastRows(go, gs, rows, cols, acc);
      await close(go, ro, 1e-5, 1e-6, `broadcastRows accumulate=${acc}`);
    }
  });
});

describeGpu("webgpu matmul", () => {
  const shapes: [number, number, number][] = [
    [1, 1, 1],
    [7, 13, 5],
    [70, 65, 33], // two output tiles each way, K not a multiple of the 16-wide K step
    [3, 5, 0], // empty K: C = 0, or unchanged when accumulating
  ];
  for (const [M, N, K] of shapes)
    it(`[${M}x${K}]x[${K}x${N}], every transpose, with and without accumulation`, async () => {
      for (const transA of [false, true])
        for (const transB of [false, true])
          for (const acc of [false, true]) {
            const [ra, ga] = pair(randn(M * K));
            const [rb, gbm] = pair(randn(K * N));
            const [rc, gc] = pair(randn(M * N));
            const shape = { M, N, K, transA, transB, accumulate: acc };
            ref.matmul(rc, ra, rb, shape);
            gb.matmul(gc, ga, gbm, shape);
            await close(gc, rc, 1e-5 * (K + 1), 1e-5, `C transA=${transA} transB=${transB} acc=${acc}`);
          }
    });
});

describeGpu("webgpu transformer kernels", () => {
  it("embedding and its gradient with repeated ids; bad ids are an error", async () => {
    const V = 11;
    const dim = 6;
    const ids = Int32Array.of(3, 0, 10, 3, 3, 7, 0);
    const [rt, gt] = pair(randn(V * dim));
    const [ro, go] = pair(randn(ids.length * dim));
    ref.embedding(ro, rt, ids, dim);
    gb.embedding(go, gt, ids, dim);
    await close(go, ro, 0, 0, "embedding");
    const [rg, gg] = pair(randn(ids.length * dim));
    ref.embeddingBackward(rt, ids, rg, dim);
    gb.embeddingBackward(gt, ids, gg, dim);
    await close(gt, rt, 1e-6, 1e-6, "embeddingBackward");
    assert.throws(() => gb.embedding(go, gt, Int32Array.of(11), dim), /id 11 outside/);
  });
  it("rmsnorm forward and backward", async () => {
    const rows = 9;
    const dim = 300;
    const [rx, gx] = pair(randn(rows * dim));
    const [rw, gw] = pair(randn(dim));
    const [ry, gy] = pair(randn(rows * dim));
    const [rr, gr] = pair(randn(rows));
    ref.rmsnorm(ry, rr, rx, rw, rows, dim, 1e-6);
    gb.rmsnorm(gy, gr, gx, gw, rows, dim, 1e-6);
    await close(gy, ry, 1e-5, 1e-5, "y");
    await close(gr, rr, 1e-5, 1e-5, "rstd");
    await sync(rr, gr);
    const [rg, gg] = pair(randn(rows * dim));
    const [rdx, gdx] = pair(randn(rows * dim));
    const [rdw, gdw] = pair(randn(dim));
    ref.rmsnormBackward(rdx, rdw, rg, rx, rw, rr, rows, dim);
    gb.rmsnormBackward(gdx, gdw, gg, gx, gw, gr, rows, dim);
    await close(gdx, rdx, 1e-5, 1e-4, "dx");
    await close(gdw, rdw, 1e-5, 1e-4, "dw");
  });
  it("rope forward and inverse, near and far positions", async () => {
    const [rows, H, D] = [7, 3, 16];
    const [rx, gx] = pair(randn(rows * H * D));
    const [ro, go] = pair(randn(rows * H * D));
    for (const pos of [
      Int32Array.from({ length: rows }, (_, i) => (i * 37) % 301),
      Int32Array.of(5000, 1, 2, 3, 4, 5, 6),
    ])
      for (const inverse of [false, true]) {
        ref.rope(ro, rx, pos, { rows, H, D, theta: 10000, inverse });
        gb.rope(go, gx, pos, { rows, H, D, theta: 10000, inverse });
        await close(go, ro, 2e-6, 1e-5, `rope inverse=${inverse} max position ${Math.max(...pos)}`);
      }
  });
  it("swiglu and adamw", async () => {
    const n = 1000;
    const [rgate, ggate] = pair(randn(n, 6));
    const [rup, gup] = pair(randn(n));
    const [ro, go] = pair(randn(n));
    ref.swiglu(ro, rgate, rup);
    gb.swiglu(go, ggate, gup);
    await close(go, ro, 1e-6, 1e-5, "swiglu");
    const [rd, gd] = pair(randn(n));
    const [rdg, gdg] = pair(randn(n));
    const [rdu, gdu] = pair(randn(n));
    ref.swigluBackward(rdg, rdu, rgate, rup, rd);
    gb.swigluBackward(gdg, gdu, ggate, gup, gd);
    await close(gdg, rdg, 1e-6, 1e-5, "dGate");
    await close(gdu, rdu, 1e-6, 1e-5, "dUp");
    const [rp, gp] = pair(randn(n));
    const [rm, gm] = pair(randn(n, 0.1));
    const [rv, gv] = pair(randn(n).map((x) => x * x));
    const hp = { lr: 1e-3, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1, step: 3 };
    ref.adamw(rp, rd, rm, rv, hp);
    gb.adamw(gp, gd, gm, gv, hp);
    await close(gp, rp, 1e-6, 1e-5, "param");
    await close(gm, rm, 1e-6, 1e-5, "m");
    await close(gv, rv, 1e-6, 1e-5, "v");
  });
});

describeGpu("webgpu attention", () => {
  async function fwd(sh: AttentionShape, pos0: number[]) {
    const { B, Tq, Tk, Hq, Hkv, D } = sh;
    const [rq, gq] = pair(randn(B * Tq * Hq * D));
    const [rk, gk] = pair(randn(B * Tk * Hkv * D));
    const [rv, gv] = pair(randn(B * Tk * Hkv * D));
    const [ro, go] = pair(randn(B * Tq * Hq * D));
    const [rl, gl] = pair(randn(B * Hq * Tq));
    const p0 = Int32Array.from(pos0);
    const scale = 1 / Math.sqrt(D);
    ref.attention(ro, rl, rq, rk, rv, sh, p0, scale);
    gb.attention(go, gl, gq, gk, gv, sh, p0, scale);
    await close(go, ro, 2e-5, 1e-4, "out");
    await close(gl, rl, 2e-5, 1e-5, "lse");
    return { rq, gq, rk, gk, rv, gv, ro, go, rl, gl, scale };
  }
  it("training shapes, grouped heads, rows longer than one 64-key chunk (T=70)", async () => {
    await fwd({ B: 2, Tq: 70, Tk: 70, Hq: 4, Hkv: 2, D: 8 }, [0, 0]);
  });
  it("KV-cache decoding: one query at pos0 = 3 and 80 in a cache of 81, head dim 72", async () => {
    await fwd({ B: 2, Tq: 1, Tk: 81, Hq: 2, Hkv: 1, D: 72 }, [3, 80]);
  });
  it("a chunk of 3 queries at pos0 = 0 and 5 in a cache of 8", async () => {
    await fwd({ B: 2, Tq: 3, Tk: 8, Hq: 4, Hkv: 2, D: 16 }, [0, 5]);
  });
  for (const sh of [
    { B: 2, Tq: 9, Tk: 9, Hq: 6, Hkv: 2, D: 8 },
    { B: 1, Tq: 70, Tk: 70, Hq: 2, Hkv: 1, D: 72 },
  ])
    it(`backward B=${sh.B} T=${sh.Tq} Hq=${sh.Hq} Hkv=${sh.Hkv} D=${sh.D}`, async () => {
      const f = await fwd(sh, new Array(sh.B).fill(0));
      const nq = sh.B * sh.Tq * sh.Hq * sh.D;
      const nk = sh.B * sh.Tk * sh.Hkv * sh.D;
      const [rg, gg] = pair(randn(nq));
      const [rdq, gdq] = pair(randn(nq));
      const [rdk, gdk] = pair(randn(nk));
      const [rdv, gdv] = pair(randn(nk));
      await sync(f.ro, f.go);
      await sync(f.rl, f.gl);
      ref.attentionBackward(
        { dq: rdq, dk: rdk, dv: rdv, dOut: rg, q: f.rq, k: f.rk, v: f.rv, out: f.ro, lse: f.rl },
        sh,
        f.scale,
      );
      gb.attentionBackward(
        { dq: gdq, dk: gdk, dv: gdv, dOut: gg, q: f.gq, k: f.gk, v: f.gv, out: f.go, lse: f.gl },
        sh,
        f.scale,
      );
      await close(gdq, rdq, 1e-4, 1e-4, "dq");
      await close(gdk, rdk, 1e-4, 1e-4, "dk");
      await close(gdv, rdv, 1e-4, 1e-4, "dv");
    });
});

describeGpu("webgpu tokenStats", () => {
  for (const [N, V] of [
    [3, 3],
    [4, 513],
  ])
    it(`forward and backward N=${N} V=${V} (an ignored target)`, async () => {
      const [rz, gz] = pair(randn(N * V, 4));
      const targets = Int32Array.from({ length: N }, (_, r) => (r === 1 ? -1 : (r * 7) % V));
      const [ro, go] = pair(randn(N * 3));
      const [rl, gl] = pair(randn(N));
      ref.tokenStats(ro, rl, rz, targets, N, V);
      gb.tokenStats(go, gl, gz, targets, N, V);
      await close(go, ro, 2e-5, 1e-4, "stats");
      await close(gl, rl, 2e-5, 1e-5, "lse");
      await sync(rl, gl);
      const [rg, gg] = pair(randn(N * 3));
      const [rd, gd] = pair(randn(N * V));
      ref.tokenStatsBackward(rd, rg, rz, rl, targets, N, V);
      gb.tokenStatsBackward(gd, gg, gz, gl, targets, N, V);
      await close(gd, rd, 2e-5, 1e-4, "dLogits");
    });
});
