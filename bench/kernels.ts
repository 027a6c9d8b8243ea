// Kernel micro-benchmark of the CPU backends: matmul GFLOP/s on the shapes of a ~2M-parameter
// model's training step (64 x 128 tokens, hidden 128, MLP 384, vocabulary 512), attention and
// token-statistics forward + backward times; for the TypeScript reference, the wasm backend on
// 1 thread and on 2 threads, and PyTorch (/usr/bin/python3, when it has torch) at 1 and 2 threads.
// Medians over repeats, the backends interleaved call by call; the machine may be shared, so the
// spread (min..max) is printed too.
// Usage: node --import tsx bench/kernels.ts [--reps N]

import { spawnSync } from "node:child_process";
import type { AttentionShape, Backend } from "../src/engine/backend.ts";
import { CpuBackend, type CpuStorage } from "../src/engine/backends/cpu/backend.ts";
import { WasmBackend } from "../src/engine/backends/cpu/wasm-backend.ts";

const repsArg = process.argv.indexOf("--reps");
const REPS = repsArg >= 0 ? Number(process.argv[repsArg + 1]) : 7;

type B = Backend<CpuStorage>;

function rand(b: B, n: number): CpuStorage {
  const s = b.alloc(n);
  for (let i = 0; i < n; i++) s.data[i] = Math.random() * 2 - 1;
  return s;
}

interface Timing {
  med: number;
  min: number;
  max: number;
}
function stats(ts: number[]): Timing {
  ts.sort((a, b) => a - b);
  return { med: ts[Math.floor(ts.length / 2)], min: ts[0], max: ts[ts.length - 1] };
}

/** Milliseconds of each fn over `reps` rounds after a warm-up; the fns run interleaved, one call
 *  each per round, so that load from other processes hits them alike. */
function timeInterleaved(fns: (() => void)[], reps: number[]): Timing[] {
  for (const f of fns) f();
  const ts: number[][] = fns.map(() => []);
  for (let r = 0; r < Math.max(...reps); r++)
    fns.forEach((f, i) => {
      if (r >= reps[i]) return;
      const t0 = performance.now();
      f();
      ts[i].push(performance.now() - t0);
    });
  return ts.map(stats);
}

const shapes: { name: string; M: number; N: number; K: number; tA: boolean; tB: boolean }[] = [
  { name: "x W^T (qkv, up)", M: 8192, N: 384, K: 128, tA: false, tB: true },
  { name: "x W^T (down)", M: 8192, N: 128, K: 384, tA: false, tB: true },
  { name: "dY W (dX)", M: 8192, N: 128, K: 384, tA: false, tB: false },
  { name: "dY^T X (dW)", M: 384, N: 128, K: 8192, tA: true, tB: false },
  { name: "x E^T (lm head)", M: 8192, N: 512, K: 128, tA: false, tB: true },
];

const ref = new CpuBackend("f32");
const w1 = new WasmBackend({ threads: 1 });
const w2 = new WasmBackend({ threads: 2 });
const backends: [string, B, number][] = [
  ["reference JS", ref, Math.min(REPS, 3)],
  ["wasm 1 thread", w1, REPS],
  ["wasm 2 threads", w2, REPS],
];

function torchMatmul(threads: number): number[] | null {
  const py = `
import torch, time, json, sys
torch.set_num_threads(${threads})
shapes = ${JSON.stringify(shapes.map((s) => [s.M, s.N, s.K, +s.tA, +s.tB]))}
out = []
for M, N, K, tA, tB in shapes:
    a = torch.randn(K, M) if tA else torch.randn(M, K)
    b = torch.randn(N, K) if tB else torch.randn(K, N)
    f = lambda: torch.matmul(a.t() if tA else a, b.t() if tB else b)
    f()
    ts = []
    for _ in range(${REPS}):
        t0 = time.perf_counter(); f(); ts.append(time.perf_counter() - t0)
    ts.sort()
    out.append(2 * M * N * K / ts[len(ts) // 2] / 1e9)
print(json.dumps(out))
`;
  const r = spawnSync("/usr/bin/python3", ["-c", py], { encoding: "utf8" });
  if (r.status !== 0) return null;
  return JSON.parse(r.stdout.trim().split("\n").pop()!);
}

const fmt = (x: number) => x.toFixed(1).padStart(7);
console.log(`wasm build: ${w1.name} (fused multiply-add: ${w1.relaxed}), ${REPS} repeats, median [min..max]`);
console.log("\nmatmul GFLOP/s");
const torch1 = torchMatmul(1);
const torch2 = torchMatmul(2);
const header = ["shape (M x N x K)", ...backends.map((b) => b[0])];
if (torch1) header.push("torch 1 thread", "torch 2 threads");
console.log(header.join(" | "));
shapes.forEach((s, i) => {
  const cells: string[] = [`${s.name} ${s.M}x${s.N}x${s.K}`];
  const bufs = backends.map(([, b]) => ({
    b,
    A: rand(b, s.M * s.K),
    B: rand(b, s.K * s.N),
    C: b.alloc(s.M * s.N),
  }));
  const times = timeInterleaved(
    bufs.map((x) => () => x.b.matmul(x.C, x.A, x.B, { M: s.M, N: s.N, K: s.K, transA: s.tA, transB: s.tB })),
    backends.map(([, , reps]) => reps),
  );
  const g = (ms: number) => (2 * s.M * s.N * s.K) / ms / 1e6;
  for (const t of times) cells.push(`${fmt(g(t.med))} [${g(t.max).toFixed(1)}..${g(t.min).toFixed(1)}]`);
  for (const x of bufs) for (const y of [x.A, x.B, x.C]) x.b.free(y);
  if (torch1 && torch2) cells.push(fmt(torch1[i]), fmt(torch2[i]));
  console.log(cells.join(" | "));
});

console.log("\nattention B=64 T=128 Hq=4 Hkv=2 D=32, ms: forward | backward  [forward min..max]");
const sh: AttentionShape = { B: 64, Tq: 128, Tk: 128, Hq: 4, Hkv: 2, D: 32 };
{
  const nq = sh.B * sh.Tq * sh.Hq * sh.D;
  const nk = sh.B * sh.Tk * sh.Hkv * sh.D;
  const p0 = new Int32Array(sh.B);
  const st = backends.map(([, b]) => ({
    b,
    q: rand(b, nq),
    k: rand(b, nk),
    v: rand(b, nk),
    out: b.alloc(nq),
    lse: b.alloc(sh.B * sh.Hq * sh.Tq),
    g: rand(b, nq),
    dq: b.alloc(nq),
    dk: b.alloc(nk),
    dv: b.alloc(nk),
  }));
  const reps = backends.map(([name, , r]) => (name.startsWith("ref") ? 1 : r));
  const f = timeInterleaved(
    st.map((x) => () => x.b.attention(x.out, x.lse, x.q, x.k, x.v, sh, p0, 0.17)),
    reps,
  );
  const bw = timeInterleaved(
    st.map(
      (x) => () =>
        x.b.attentionBackward(
          { dq: x.dq, dk: x.dk, dv: x.dv, dOut: x.g, q: x.q, k: x.k, v: x.v, out: x.out, lse: x.lse },
          sh,
          0.17,
        ),
    ),
    reps,
  );
  backends.forEach(([name], i) => {
    const spread = `[${f[i].min.toFixed(1)}..${f[i].max.toFixed(1)}]`;
    console.log(`${name.padEnd(15)} ${fmt(f[i].med)} | ${fmt(bw[i].med)}   ${spread}`);
  });
}

console.log("\ntokenStats N=8192 V=512, ms: forward | backward");
{
  const N = 8192;
  const V = 512;
  const tg = Int32Array.from({ length: N }, (_, i) => i % V);
  const st = backends.map(([, b]) => ({
    b,
    z: rand(b, N * V),
    out: b.alloc(N * 3),
    lse: b.alloc(N),
    g: rand(b, N * 3),
    dz: b.alloc(N * V),
  }));
  const reps = backends.map(([, , r]) => r);
  const f = timeInterleaved(
    st.map((x) => () => x.b.tokenStats(x.out, x.lse, x.z, tg, N, V)),
    reps,
  );
  const bw = timeInterleaved(
    st.map((x) => () => x.b.tokenStatsBackward(x.dz, x.g, x.z, x.lse, tg, N, V)),
    reps,
  );
  backends.forEach(([name], i) => {
    console.log(`${name.padEnd(15)} ${fmt(f[i].med)} | ${fmt(bw[i].med)}`);
  });
}
w1.dispose();
w2.dispose();
