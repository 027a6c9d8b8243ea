// Loads the compiled kernel module synchronously (so a backend can be made at start-up).
//
// Two builds are committed: kernels-relaxed.wasm uses relaxed SIMD's fused multiply-add, which
// Node 20 (V8 11.3) keeps behind --experimental-wasm-relaxed-simd; kernels.wasm is plain SIMD.
// The loader turns the flag on at run time and keeps the relaxed build if it validates.
// It also turns off V8's baseline (Liftoff) tier before compiling: kernels are few and long
// running, and Liftoff code for SIMD loops is several times slower than the optimizing tier
// that would otherwise only replace it after a few calls. Set RLIF_WASM_RELAXED=0 to keep plain SIMD.

import { readFileSync } from "node:fs";
import v8 from "node:v8";
import { type ChunkedKernelName, KERNELS, type KernelName, type KernelSpec } from "../../../kernels.ts";

// The project's TypeScript lib (ES2022, no DOM) does not declare WebAssembly; the little this
// backend uses is typed here rather than in a global declaration that could clash with others.
// biome-ignore lint/suspicious/noEmptyInterface: opaque handle
export interface WasmModule {}
export interface WasmMemory {
  readonly buffer: ArrayBufferLike;
  grow(pages: number): number;
}
interface WebAssemblyApi {
  Module: new (bytes: Uint8Array) => WasmModule;
  Memory: new (d: { initial: number; maximum: number; shared: boolean }) => WasmMemory;
  Instance: new (m: WasmModule, imports: object) => { exports: object };
  validate(bytes: Uint8Array): boolean;
}
export const wasmApi = (globalThis as unknown as { WebAssembly: WebAssemblyApi }).WebAssembly;

export interface KernelModule {
  module: WasmModule;
  /** Whether the fused multiply-add (relaxed SIMD) build was loaded. */
  relaxed: boolean;
}

let cached: KernelModule | null = null;

function file(name: string): Uint8Array {
  return readFileSync(new URL(name, import.meta.url));
}

export function loadKernelModule(): KernelModule {
  if (cached) return cached;
  v8.setFlagsFromString("--no-liftoff");
  let relaxed = false;
  let bytes = file("./kernels.wasm");
  if (process.env.RLIF_WASM_RELAXED !== "0") {
    v8.setFlagsFromString("--experimental-wasm-relaxed-simd");
    const r = file("./kernels-relaxed.wasm");
    if (wasmApi.validate(r)) {
      bytes = r;
      relaxed = true;
    }
  }
  cached = { module: new wasmApi.Module(bytes), relaxed };
  return cached;
}

/** The module's exports as the JS side calls them (pointers are byte offsets into the memory):
 *  the kernels of the table, and the helpers below. */
export type Kernels = { readonly [K in ChunkedKernelName]: (...a: number[]) => void } & {
  sumAll(a: number, n: number): number;
  sumSquares(a: number, n: number): number;
  heapBase(): number;
  matmulScratchBytes(): number;
  attentionScratchBytes(rows: number, n: number, D: number, backward: number): number;
  attentionDecodeScratchBytes(n: number): number;
  decodeScratchBytes(plan: number, rows: number): number;
  packedFloats(N: number, K: number): number;
  decodeBegin(state: number): number;
};

/** Exports the glue calls directly that are not kernels of the table, with their arity. */
export const WASM_HELPERS = {
  heapBase: 0,
  matmulScratchBytes: 0,
  attentionScratchBytes: 4,
  attentionDecodeScratchBytes: 1,
  decodeScratchBytes: 2,
  packedFloats: 2,
} as const;

/** wasm parameters of a kernel: (t, nt) when chunked, one per argument, two (base, stride) for scratch. */
export function wasmArity(spec: KernelSpec): number {
  return (spec.chunked ? 2 : 0) + spec.args.reduce((n, a) => n + (a.kind === "scratch" ? 2 : 1), 0);
}

/** Checks a module's exports against the kernel table (names and arities): a kernel added, removed
 *  or reordered on one side only fails here, at load, instead of writing to the wrong buffer. */
export function checkExports(exports: Record<string, unknown>): void {
  const wanted: [string, number][] = [
    ...(Object.keys(KERNELS) as KernelName[]).map((n): [string, number] => [n, wasmArity(KERNELS[n])]),
    ...Object.entries(WASM_HELPERS),
  ];
  const errors: string[] = [];
  for (const [name, arity] of wanted) {
    const f = exports[name];
    if (typeof f !== "function") errors.push(`${name} is not exported`);
    else if (f.length !== arity) errors.push(`${name} takes ${f.length} arguments, the table says ${arity}`);
  }
  if (errors.length) throw new Error(`wasm kernels do not match the kernel table: ${errors.join("; ")}`);
}

export function instantiate(module: WasmModule, memory: WasmMemory): Kernels {
  const inst = new wasmApi.Instance(module, { env: { memory } });
  checkExports(inst.exports as Record<string, unknown>);
  return inst.exports as unknown as Kernels;
}
