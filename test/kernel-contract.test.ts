// The kernel contract: the table in engine/kernels.ts matches the AssemblyScript kernels (names,
// order and types of every argument), the loader rejects a module that does not match it, the
// glue checks what callers pass, the pool's control block has one consistent layout, and every
// case the wasm backend lists in its routes runs where the list says.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { describeBackend } from "../src/cli/backend.ts";
import { CpuBackend } from "../src/engine/backends/cpu/backend.ts";
import * as layout from "../src/engine/backends/cpu/wasm/control-block.mjs";
import {
  checkExports,
  instantiate,
  loadKernelModule,
  WASM_HELPERS,
  wasmApi,
} from "../src/engine/backends/cpu/wasm/loader.ts";
import { WASM_ROUTES, WasmBackend } from "../src/engine/backends/cpu/wasm-backend.ts";
import { KERNELS, type KernelName, parseKernel } from "../src/engine/kernels.ts";
import { BACKEND_OPS, formatRoutes, REFERENCE_ROUTES } from "../src/engine/routes.ts";

const ASSEMBLY = "src/engine/backends/cpu/wasm/assembly";

/** `export function name(p: type, ...): ret` of the AssemblyScript sources, by name. */
function assemblySignatures(): Map<string, { params: [string, string][]; ret: string }> {
  const out = new Map<string, { params: [string, string][]; ret: string }>();
  for (const f of readdirSync(ASSEMBLY)) {
    const src = readFileSync(join(ASSEMBLY, f), "utf8");
    for (const m of src.matchAll(/export function (\w+)\(([^)]*)\)\s*:\s*(\w+)/g)) {
      const params = m[2]
        .split(",")
        .map((p) => p.trim())
        .filter(Boolean)
        .map((p) => p.split(":").map((s) => s.trim()) as [string, string]);
      out.set(m[1], { params, ret: m[3] });
    }
  }
  return out;
}

describe("kernel table", () => {
  const asm = assemblySignatures();

  for (const name of Object.keys(KERNELS) as KernelName[]) {
    it(`${name} matches its AssemblyScript signature`, () => {
      const spec = KERNELS[name];
      const sig = asm.get(name);
      assert.ok(sig, `${name} is not an exported function of ${ASSEMBLY}`);
      const want: [string, string][] = spec.chunked
        ? [
            ["t", "i32"],
            ["nt", "i32"],
          ]
        : [];
      for (const a of spec.args) {
        if (a.kind === "scratch")
          want.push(["scratch", "usize"], ["scratchStride", "usize"]); // base, per-thread stride
        else want.push([a.name, a.kind === "i32" || a.kind === "f32" ? a.kind : "usize"]);
      }
      assert.deepEqual(sig.params, want);
      assert.equal(sig.ret, spec.returns ?? "void");
    });
  }

  it("rejects malformed lines", () => {
    assert.throws(() => parseKernel("axpy", "y: acc[m], n: i32"), /uses m, not an i32 argument/);
    assert.throws(() => parseKernel("axpy", "y: out, n: i32"), /an output needs a size/);
    assert.throws(() => parseKernel("axpy", "y: buffer[n], n: i32"), /not "name: kind\[size\]"/);
    assert.throws(() => parseKernel("axpy", "C: out|acc[n], n: i32"), /no i32 argument "acc"/);
    assert.deepEqual(parseKernel("binary", "b: in[s ? 1 : n], s: i32, n: i32").args[0].size, {
      cond: "s",
      factors: [1],
      otherwise: ["n"],
    });
  });
});

describe("wasm module against the table", () => {
  const { module } = loadKernelModule();
  const memory = new wasmApi.Memory({ initial: 2, maximum: 65536, shared: true });
  const exports = instantiate(module, memory) as unknown as Record<string, unknown>;

  it("every kernel and helper is exported with the table's arity", () => {
    checkExports(exports);
    for (const name of Object.keys(WASM_HELPERS)) assert.equal(typeof exports[name], "function");
  });

  it("a module whose kernel lost an argument, or lacks one, is refused at load", () => {
    const shorter = { ...exports, rope: (_t: number, _nt: number, _out: number) => {} };
    assert.throws(() => checkExports(shorter), /rope takes 3 arguments, the table says 11/);
    const { adamw: _gone, ...missing } = exports;
    assert.throws(() => checkExports(missing), /adamw is not exported/);
  });
});

describe("thread pool control block", () => {
  it("gives every slot its own place before the arguments", () => {
    const slots = [
      layout.GEN,
      layout.PENDING,
      layout.KERNEL,
      layout.QUIT,
      layout.ERROR,
      layout.READY,
      layout.NEXT,
      layout.CHUNKS,
      layout.SCRATCH_ARG,
      layout.WORKER_CHUNKS,
    ];
    assert.equal(new Set(slots).size, slots.length);
    for (const s of slots) assert.ok(Number.isInteger(s) && s >= 0 && s < layout.INT_SLOTS);
    assert.ok(layout.ARGS_OFFSET >= 4 * layout.INT_SLOTS && layout.ARGS_OFFSET % 8 === 0);
    assert.equal(layout.CTRL_BYTES, layout.ARGS_OFFSET + 8 * layout.MAX_ARGS);
    const buf = new SharedArrayBuffer(layout.CTRL_BYTES + 64);
    const { i32, args } = layout.controlViews(buf, 64);
    assert.equal(i32.byteOffset + i32.byteLength, args.byteOffset);
    assert.equal(args.byteOffset + args.byteLength, buf.byteLength);
  });

  it("every kernel's wasm arguments fit in it", () => {
    for (const spec of Object.values(KERNELS)) {
      const n = spec.args.reduce((k, a) => k + (a.kind === "scratch" ? 2 : 1), 0);
      assert.ok(n <= layout.MAX_ARGS, `${spec.name} passes ${n} arguments`);
    }
  });
});

describe("wasm backend routes", () => {
  const wb = new WasmBackend({ threads: 1 });
  const ref = new CpuBackend("f32");
  after(() => wb.dispose());
  const store = (n: number, v = 0.5) => {
    const s = wb.alloc(n);
    wb.write(
      s,
      Array.from({ length: n }, (_, i) => v + 0.01 * i),
    );
    return s;
  };
  /** Runs fn and says where it ran. */
  const where = (fn: () => void): "wasm" | "reference" => {
    const { serial, parallel, reference } = { ...wb.calls };
    fn();
    const r = wb.calls.reference - reference;
    const k = wb.calls.serial - serial + wb.calls.parallel - parallel;
    assert.ok(r + k === 1, `one route expected, got ${k} kernel calls and ${r} reference calls`);
    return r ? "reference" : "wasm";
  };

  it("lists every op, with kernels that exist", () => {
    assert.deepEqual(Object.keys(WASM_ROUTES).sort(), [...BACKEND_OPS].sort());
    for (const routes of Object.values(WASM_ROUTES))
      for (const r of routes) if (r.kernel) assert.ok(r.kernel in KERNELS, `${r.kernel} is not in the table`);
  });

  it("runs each listed case where the list says", () => {
    const s8 = () => store(8);
    assert.equal(
      where(() => wb.unary("log", s8(), s8())),
      "reference",
    );
    assert.equal(
      where(() => wb.unary("exp", s8(), s8())),
      "wasm",
    );
    assert.equal(
      where(() => wb.binary("add", s8(), store(4), s8())),
      "reference",
    );
    assert.equal(
      where(() => wb.binary("add", s8(), s8(), store(1))),
      "wasm",
    );
    assert.equal(
      where(() => wb.binaryBackward("mul", s8(), store(1), s8(), store(1), s8())),
      "reference",
    );
    assert.equal(
      where(() => wb.binaryBackward("mul", s8(), null, s8(), s8(), s8())),
      "wasm",
    );
    assert.equal(
      where(() => wb.clamp(s8(), s8(), 0, 1)),
      "reference",
    );
    const pos = new Int32Array([0, 3]);
    assert.equal(
      where(() => wb.rope(s8(), s8(), pos, { rows: 2, H: 1, D: 4, theta: 1e4 })),
      "reference",
    );
    assert.equal(
      where(() => wb.rope(store(16), store(16), pos, { rows: 2, H: 1, D: 8, theta: 1e4 })),
      "wasm",
    );
    assert.equal(
      where(() =>
        wb.rope(store(16), store(16), new Int32Array([0, -1]), { rows: 2, H: 1, D: 8, theta: 1e4 }),
      ),
      "reference",
    );
    const att = (D: number, Tq: number, Tk: number) => {
      const sh = { B: 1, Tq, Tk, Hq: 2, Hkv: 1, D };
      return where(() =>
        wb.attention(
          store(Tq * 2 * D),
          store(2 * Tq),
          store(Tq * 2 * D),
          store(Tk * D),
          store(Tk * D),
          sh,
          new Int32Array(1),
          0.5,
        ),
      );
    };
    assert.equal(att(2, 2, 2), "reference");
    assert.equal(att(4, 1, 3), "wasm");
    assert.equal(att(4, 2, 2), "wasm");
    const attB = (D: number, Tq: number, Tk: number) => {
      const q = () => store(Tq * 2 * D);
      const k = () => store(Tk * D);
      const g = {
        dq: q(),
        dk: k(),
        dv: k(),
        dOut: q(),
        q: q(),
        k: k(),
        v: k(),
        out: q(),
        lse: store(2 * Tq),
      };
      return where(() => wb.attentionBackward(g, { B: 1, Tq, Tk, Hq: 2, Hkv: 1, D }, 0.5));
    };
    assert.equal(attB(4, 2, 3), "reference");
    assert.equal(attB(4, 2, 2), "wasm");
  });

  it("ops whose routes are all wasm call a kernel", () => {
    const s = (n: number) => store(n);
    const ids = new Int32Array([1, 0, 2]);
    const calls: [string, () => void][] = [
      ["unaryBackward", () => wb.unaryBackward("silu", s(8), s(8), s(8), s(8))],
      ["affine", () => wb.affine(s(8), s(8), 2, 1)],
      ["axpy", () => wb.axpy(s(8), s(8), 2)],
      ["sum", () => wb.sum(s(2), s(8), 2, 4)],
      ["sumRowsAcc", () => wb.sumRowsAcc(s(4), s(8), 2, 4)],
      ["addRowVector", () => wb.addRowVector(s(8), s(8), s(4), 2, 4)],
      ["broadcastRows", () => wb.broadcastRows(s(8), s(2), 2, 4, true)],
      ["matmul", () => wb.matmul(s(6), s(8), s(12), { M: 2, N: 3, K: 4 })],
      ["embedding", () => wb.embedding(s(12), s(12), ids, 4)],
      ["embeddingBackward", () => wb.embeddingBackward(s(12), ids, s(12), 4)],
      ["rmsnorm", () => wb.rmsnorm(s(8), s(2), s(8), s(4), 2, 4, 1e-6)],
      ["rmsnormBackward", () => wb.rmsnormBackward(s(8), s(4), s(8), s(8), s(4), s(2), 2, 4)],
      ["swiglu", () => wb.swiglu(s(8), s(8), s(8))],
      ["swigluBackward", () => wb.swigluBackward(s(8), s(8), s(8), s(8), s(8))],
      ["tokenStats", () => wb.tokenStats(s(6), s(2), s(8), new Int32Array([1, -1]), 2, 4)],
      [
        "tokenStatsBackward",
        () => wb.tokenStatsBackward(s(8), s(6), s(8), s(2), new Int32Array([1, 3]), 2, 4),
      ],
      [
        "adamw",
        () =>
          wb.adamw(s(8), s(8), s(8), s(8), {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.99,
            eps: 1e-8,
            weightDecay: 0,
            step: 1,
          }),
      ],
    ];
    for (const [op, fn] of calls) {
      assert.ok(
        WASM_ROUTES[op as keyof typeof WASM_ROUTES].every((r) => r.runs === "wasm"),
        op,
      );
      assert.equal(where(fn), "wasm", op);
    }
  });

  it("a storage from another backend runs the reference, with the same result", () => {
    const a = ref.alloc(8);
    ref.write(a, [1, -2, 3, -4, 5, -6, 7, -8]);
    const out = wb.alloc(8);
    assert.equal(
      where(() => wb.unary("abs", out, a)),
      "reference",
    );
    assert.deepEqual(Array.from(out.data), [1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it("the glue names the kernel and argument of a buffer too small, and takes nothing else", () => {
    assert.throws(
      () => wb.rmsnorm(store(8), store(1), store(8), store(4), 2, 4, 1e-6),
      /rmsnormForward rstd has 1 floats, needs 2/,
    );
    assert.throws(
      () => wb.swigluBackward(store(8), store(8), store(8), store(3), store(8)),
      /swigluBackward up has 3 floats, needs 8/,
    );
    assert.throws(
      () => wb.tokenStats(store(6), store(2), store(8), new Int32Array([1]), 2, 4),
      /1 targets for 2 rows/,
    );
  });
});

describe("rlif info --backend", () => {
  it("lists every op of the js backend on the reference", () => {
    const text = describeBackend(new CpuBackend("f32"));
    for (const op of BACKEND_OPS) assert.match(text, new RegExp(`\\n  ${op} +TS reference +always`));
  });

  it("lists the wasm backend's kernels, threaded cases only with threads", () => {
    const one = formatRoutes(WASM_ROUTES, 1).join("\n");
    const two = formatRoutes(WASM_ROUTES, 2).join("\n");
    assert.match(one, /matmul +wasm SIMD \(matmul\) +always/);
    assert.doesNotMatch(one, /threaded/);
    assert.match(two, /matmul +wasm threaded \(matmul\) +2·M·N·K ≥ 4194304 flops/);
    assert.match(two, /attention +TS reference +D % 4 ≠ 0/);
    assert.equal(formatRoutes(REFERENCE_ROUTES, 2).length, BACKEND_OPS.length + 1);
  });

  it("is wired into the CLI", () => {
    const r = spawnSync(process.execPath, ["bin/rlif.mjs", "--threads", "1", "info", "--backend", "wasm"], {
      encoding: "utf8",
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^backend wasm-simd(-fma)?-x1 \(f32, 1 thread\)/);
    assert.match(r.stdout, /clamp +TS reference +always \(no kernel\)/);
  });
});
