// The wasm backend's worker-thread pool and its allocator: threaded kernels give the same
// floats as the single-threaded ones, freed blocks are reused (zero-filled), memory grows, and
// the workers never keep the process alive.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { after, describe, it } from "node:test";
import type { CpuStorage } from "../src/engine/backends/cpu/backend.ts";
import { sizeClass } from "../src/engine/backends/cpu/wasm/allocator.ts";
import { WasmBackend, type WasmStorage } from "../src/engine/backends/cpu/wasm-backend.ts";

const one = new WasmBackend({ threads: 1 });
const two = new WasmBackend({ threads: 2 });
after(() => {
  one.dispose();
  two.dispose();
});

let seed = 7;
function randn(n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    a[i] = seed / 2 ** 31 - 1;
  }
  return a;
}
/** Same values on both backends. */
function both(values: Float32Array): [CpuStorage, CpuStorage] {
  const a = one.alloc(values.length);
  const b = two.alloc(values.length);
  one.write(a, values);
  two.write(b, values);
  return [a, b];
}
/** Runs fn and checks that the two-thread backend really split its kernels over the pool. */
function threaded(fn: () => void) {
  const before = two.calls.parallel;
  fn();
  assert.ok(two.calls.parallel > before, "the problem was too small to be split across threads");
}
function same(a: CpuStorage, b: CpuStorage, what: string) {
  assert.deepEqual(b.data, a.data, `${what}: threaded result differs from single-threaded`);
}

describe("wasm thread pool", () => {
  it("uses two threads, and the worker takes a share of the chunks", () => {
    assert.equal(two.threads, 2);
    assert.equal(one.threads, 1);
    const n = 384;
    const [a1, a2] = both(randn(n * n));
    const [, c2] = both(new Float32Array(n * n));
    const before = two.workerChunks;
    for (let r = 0; r < 30 && two.workerChunks === before; r++)
      threaded(() => two.matmul(c2, a2, a2, { M: n, N: n, K: n }));
    assert.ok(two.workerChunks > before, "the worker thread never ran a chunk");
    one.free(a1);
  });

  // Sizes above the thresholds where the backend splits work, and awkward ones.
  for (const [M, N, K, tA, tB] of [
    [131, 67, 275, false, true], // split over rows
    [13, 301, 590, true, false], // wide and short: split over columns
    [130, 130, 130, true, true],
  ] as const)
    it(`matmul ${M}x${N}x${K} transA=${tA} transB=${tB} equals the single-threaded result`, () => {
      const [a1, a2] = both(randn(M * K));
      const [b1, b2] = both(randn(K * N));
      const [c1, c2] = both(randn(M * N));
      one.matmul(c1, a1, b1, { M, N, K, transA: tA, transB: tB, accumulate: true });
      threaded(() => two.matmul(c2, a2, b2, { M, N, K, transA: tA, transB: tB, accumulate: true }));
      same(c1, c2, "C");
    });

  it("attention forward and backward equal the single-threaded results", () => {
    const sh = { B: 3, Tq: 77, Tk: 77, Hq: 4, Hkv: 2, D: 16 };
    const nq = sh.B * sh.Tq * sh.Hq * sh.D;
    const nk = sh.B * sh.Tk * sh.Hkv * sh.D;
    const [q1, q2] = both(randn(nq));
    const [k1, k2] = both(randn(nk));
    const [v1, v2] = both(randn(nk));
    const [o1, o2] = both(new Float32Array(nq));
    const [l1, l2] = both(new Float32Array(sh.B * sh.Hq * sh.Tq));
    const p0 = new Int32Array(sh.B);
    one.attention(o1, l1, q1, k1, v1, sh, p0, 0.25);
    threaded(() => two.attention(o2, l2, q2, k2, v2, sh, p0, 0.25));
    same(o1, o2, "out");
    same(l1, l2, "lse");
    const [g1, g2] = both(randn(nq));
    const [dq1, dq2] = both(new Float32Array(nq));
    const [dk1, dk2] = both(new Float32Array(nk));
    const [dv1, dv2] = both(new Float32Array(nk));
    one.attentionBackward(
      { dq: dq1, dk: dk1, dv: dv1, dOut: g1, q: q1, k: k1, v: v1, out: o1, lse: l1 },
      sh,
      0.25,
    );
    threaded(() =>
      two.attentionBackward(
        { dq: dq2, dk: dk2, dv: dv2, dOut: g2, q: q2, k: k2, v: v2, out: o2, lse: l2 },
        sh,
        0.25,
      ),
    );
    same(dq1, dq2, "dq");
    same(dk1, dk2, "dk");
    same(dv1, dv2, "dv");
  });

  it("decoding attention (Tq = 1) equals the single-threaded result", () => {
    const sh = { B: 16, Tq: 1, Tk: 200, Hq: 4, Hkv: 2, D: 32 };
    const [q1, q2] = both(randn(sh.B * sh.Hq * sh.D));
    const [k1, k2] = both(randn(sh.B * sh.Tk * sh.Hkv * sh.D));
    const [v1, v2] = both(randn(sh.B * sh.Tk * sh.Hkv * sh.D));
    const [o1, o2] = both(new Float32Array(sh.B * sh.Hq * sh.D));
    const [l1, l2] = both(new Float32Array(sh.B * sh.Hq));
    const p0 = Int32Array.from({ length: sh.B }, (_, b) => 150 + 3 * b);
    one.attention(o1, l1, q1, k1, v1, sh, p0, 0.2);
    threaded(() => two.attention(o2, l2, q2, k2, v2, sh, p0, 0.2));
    same(o1, o2, "out");
    same(l1, l2, "lse");
  });

  it("tokenStats, rmsnorm, swiglu, adamw and axpy equal the single-threaded results", () => {
    const N = 97;
    const V = 403;
    const [z1, z2] = both(randn(N * V));
    const targets = Int32Array.from({ length: N }, (_, i) => (i * 13) % V);
    const [s1, s2] = both(new Float32Array(N * 3));
    const [e1, e2] = both(new Float32Array(N));
    one.tokenStats(s1, e1, z1, targets, N, V);
    threaded(() => two.tokenStats(s2, e2, z2, targets, N, V));
    same(s1, s2, "stats");
    const [g1, g2] = both(randn(N * 3));
    const [d1, d2] = both(randn(N * V));
    one.tokenStatsBackward(d1, g1, z1, e1, targets, N, V);
    threaded(() => two.tokenStatsBackward(d2, g2, z2, e2, targets, N, V));
    same(d1, d2, "dLogits");

    const rows = 2053;
    const dim = 130;
    const [x1, x2] = both(randn(rows * dim));
    const [w1, w2] = both(randn(dim));
    const [y1, y2] = both(new Float32Array(rows * dim));
    const [r1, r2] = both(new Float32Array(rows));
    one.rmsnorm(y1, r1, x1, w1, rows, dim, 1e-5);
    threaded(() => two.rmsnorm(y2, r2, x2, w2, rows, dim, 1e-5));
    same(y1, y2, "rmsnorm y");
    const [dx1, dx2] = both(randn(rows * dim));
    const [dw1, dw2] = both(randn(dim));
    one.rmsnormBackward(dx1, dw1, y1, x1, w1, r1, rows, dim);
    threaded(() => two.rmsnormBackward(dx2, dw2, y2, x2, w2, r2, rows, dim));
    same(dx1, dx2, "rmsnorm dx");
    same(dw1, dw2, "rmsnorm dw");

    const n = rows * dim;
    one.swiglu(y1, x1, dx1);
    threaded(() => two.swiglu(y2, x2, dx2));
    same(y1, y2, "swiglu");
    const [dg1, dg2] = both(randn(n));
    const [du1, du2] = both(randn(n));
    one.swigluBackward(dg1, du1, x1, dx1, y1);
    threaded(() => two.swigluBackward(dg2, du2, x2, dx2, y2));
    same(dg1, dg2, "dGate");
    same(du1, du2, "dUp");
    const [m1, m2] = both(new Float32Array(n));
    const [vv1, vv2] = both(new Float32Array(n));
    one.adamw(x1, y1, m1, vv1, { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, step: 1 });
    threaded(() =>
      two.adamw(x2, y2, m2, vv2, {
        lr: 1e-2,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weightDecay: 0.01,
        step: 1,
      }),
    );
    same(x1, x2, "adamw");
    one.axpy(x1, y1, 0.3);
    threaded(() => two.axpy(x2, y2, 0.3));
    same(x1, x2, "axpy");
  });

  it("elementwise, broadcast and rope kernels equal the single-threaded results", () => {
    const rows = 2053;
    const cols = 132;
    const n = rows * cols;
    const [a1, a2] = both(randn(n));
    const [b1, b2] = both(randn(n));
    const [o1, o2] = both(new Float32Array(n));
    for (const op of ["add", "mul", "max"] as const) {
      one.binary(op, o1, a1, b1);
      threaded(() => two.binary(op, o2, a2, b2));
      same(o1, o2, op);
      one.binaryBackward(op, a1, b1, o1, b1, a1);
      threaded(() => two.binaryBackward(op, a2, b2, o2, b2, a2));
      same(a1, a2, `${op} dA`);
      same(b1, b2, `${op} dB`);
    }
    one.unary("silu", o1, a1);
    threaded(() => two.unary("silu", o2, a2));
    same(o1, o2, "silu");
    const [c1, c2] = both(randn(cols));
    one.sumRowsAcc(c1, a1, rows, cols);
    threaded(() => two.sumRowsAcc(c2, a2, rows, cols));
    same(c1, c2, "sumRowsAcc");
    const pos = Int32Array.from({ length: rows }, (_, i) => i % 129);
    one.rope(o1, a1, pos, { rows, H: 2, D: 64, theta: 10000 });
    threaded(() => two.rope(o2, a2, pos, { rows, H: 2, D: 64, theta: 10000 }));
    same(o1, o2, "rope");
  });

  it("workers see memory grown after they started", () => {
    const before = two.memoryStats().capacity;
    const filler = two.alloc(before / 4); // pushes the next blocks past the current end
    const M = 150;
    const [a1, a2] = both(randn(M * M));
    const [c1, c2] = both(new Float32Array(M * M));
    assert.ok(two.memoryStats().capacity > before);
    assert.ok((a2 as WasmStorage).ptr >= before, "the operands lie in the grown part");
    one.matmul(c1, a1, a1, { M, N: M, K: M, transB: true });
    threaded(() => two.matmul(c2, a2, a2, { M, N: M, K: M, transB: true }));
    same(c1, c2, "C");
    two.free(filler);
  });

  it("workers do not keep the process alive", () => {
    const code = `import { WasmBackend } from "./src/engine/backends/cpu/wasm-backend.ts";
      const b = new WasmBackend({ threads: 2 });
      const a = b.alloc(300 * 300);
      b.matmul(b.alloc(300 * 300), a, a, { M: 300, N: 300, K: 300 });
      console.log("done", b.threads);`;
    const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], {
      encoding: "utf8",
      timeout: 30000,
    });
    assert.equal(r.signal, null, "the process had to be killed: a worker kept it alive");
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /done 2/);
  });
});

describe("wasm allocator", () => {
  it("size classes cover the request with at most 25% waste, 16-byte aligned", () => {
    for (const b of [1, 4, 63, 64, 65, 100, 1000, 4096, 4097, 123457]) {
      const c = sizeClass(b);
      assert.ok(c >= b && c % 16 === 0, `class ${c} for ${b}`);
      assert.ok(b <= 64 || c <= b * 1.25, `class ${c} wastes too much for ${b}`);
    }
  });

  it("reuses a freed block, zero-filled", () => {
    const b = one;
    const s = b.alloc(1000) as WasmStorage;
    s.data.fill(3.5);
    const ptr = s.ptr;
    b.free(s);
    const t = b.alloc(999) as WasmStorage; // same size class
    assert.equal(t.ptr, ptr);
    assert.equal(t.ptr % 16, 0);
    assert.ok(t.data.every((x) => x === 0));
    assert.throws(() => b.free(s), /freed twice/);
    b.free(t);
  });

  it("a reused block reads as zeros in kernels that accumulate or overwrite part of it", () => {
    const b = one;
    const blocks = [b.alloc(1000), b.alloc(1000), b.alloc(1000)];
    for (const s of blocks) s.data.fill(9);
    for (const s of blocks) b.free(s);
    // axpy accumulates into its first argument: y = 0 + 2 x.
    const y = b.alloc(1000) as WasmStorage;
    assert.ok(y.dirty, "a reused block starts dirty (zeroed lazily)");
    const x = b.alloc(1000);
    b.fill(x, 1.5);
    b.axpy(y, x, 2);
    assert.ok(y.data.every((v) => v === 3));
    // A matmul writes only the first M * N floats of a larger output: the rest must read 0.
    const c = b.alloc(1000) as WasmStorage;
    b.matmul(c, x, x, { M: 2, N: 3, K: 4 });
    assert.deepEqual(Array.from(c.data.subarray(0, 6)), [9, 9, 9, 9, 9, 9]);
    assert.ok(c.data.subarray(6).every((v) => v === 0));
    for (const s of [x, y, c]) b.free(s);
  });

  it("copy moves floats between storages, with offsets, into a reused block", () => {
    const b = one;
    const junk = b.alloc(64);
    junk.data.fill(7);
    b.free(junk);
    const dst = b.alloc(64); // reused: logically zero
    const src = b.alloc(10);
    b.write(
      src,
      Float32Array.from({ length: 10 }, (_, i) => i + 1),
    );
    b.copy(dst, src, 4, 30, 2);
    const want = new Float32Array(64);
    want.set([3, 4, 5, 6], 30);
    assert.deepEqual(dst.data, want);
    b.copy(dst, dst, 8, 31, 28); // overlapping, like memmove
    want.copyWithin(31, 28, 36);
    assert.deepEqual(dst.data, want);
    assert.throws(() => b.copy(dst, src, 11), RangeError);
    for (const s of [dst, src]) b.free(s);
  });

  it("cuts a request from merged free blocks before it grows; such a block reads as zeros", () => {
    const b = new WasmBackend({ threads: 1, initialMiB: 16 });
    const KiB = 256; // floats
    // 8 MiB in 64 blocks of one class, then a block after them: freed, they are a run in the middle.
    const small = Array.from({ length: 64 }, () => b.alloc(128 * KiB));
    const fence = b.alloc(16);
    for (const s of small) s.data.fill(5);
    for (const s of small) b.free(s);
    const { capacity } = b.memoryStats();
    // Classes no free list holds (6 and 2 MiB): both are cut from the run, the memory does not grow.
    const six = b.alloc(6 * 1024 * KiB) as WasmStorage;
    const two = b.alloc(2 * 1024 * KiB) as WasmStorage;
    assert.equal(b.memoryStats().capacity, capacity);
    const run = [(small[0] as WasmStorage).ptr, (fence as WasmStorage).ptr];
    for (const s of [six, two])
      assert.ok(s.ptr >= run[0] && s.ptr + s.size * 4 <= run[1], "inside the freed run");
    assert.ok(six.data.every((x) => x === 0) && two.data.every((x) => x === 0));
    b.dispose();
  });

  it("grows the memory past its initial size; views made before stay valid", () => {
    const b = new WasmBackend({ threads: 1, initialMiB: 1 });
    const before = b.memoryStats().capacity;
    const small = b.alloc(16);
    small.data[3] = 42;
    const big = b.alloc(3 * 2 ** 20); // 12 MiB
    big.data[big.size - 1] = 7;
    assert.ok(b.memoryStats().capacity > before);
    assert.equal(small.data[3], 42);
    assert.equal(big.data[big.size - 1], 7);
    b.matmul(big, small, small, { M: 1, N: 1, K: 1 }); // kernels see the grown memory
    assert.equal(big.data[0], small.data[0] * small.data[0]);
    b.dispose();
  });
});
