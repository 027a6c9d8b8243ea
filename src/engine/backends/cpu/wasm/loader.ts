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

/** The kernel exports, as the JS side calls them (pointers are byte offsets into the memory). */
export interface Kernels {
  heapBase(): number;
  matmulScratchBytes(): number;
  attentionScratchBytes(rows: number, n: number, D: number, backward: number): number;
  matmul(...a: number[]): void;
  attentionForward(...a: number[]): void;
  attentionBackward(...a: number[]): void;
  attentionDecode(...a: number[]): void;
  attentionDecodeScratchBytes(n: number): number;
  tokenStatsForward(...a: number[]): void;
  tokenStatsBackward(...a: number[]): void;
  rmsnormForward(...a: number[]): void;
  rmsnormBackward(...a: number[]): void;
  swigluForward(...a: number[]): void;
  swigluBackward(...a: number[]): void;
  adamw(...a: number[]): void;
  axpy(...a: number[]): void;
  binary(...a: number[]): void;
  binaryBackward(...a: number[]): void;
  unary(...a: number[]): void;
  unaryBackward(...a: number[]): void;
  affine(...a: number[]): void;
  addRowVector(...a: number[]): void;
  sumRowsAcc(...a: number[]): void;
  sumRows(...a: number[]): void;
  broadcastRows(...a: number[]): void;
  rope(...a: number[]): void;
  embedding(...a: number[]): void;
  embeddingBackward(...a: number[]): void;
  sumAll(a: number, n: number): number;
  sumSquares(a: number, n: number): number;
}

/** Kernels that the thread pool can run, by index in the control block. */
export const PARALLEL_KERNELS = [
  "matmul",
  "attentionForward",
  "attentionBackward",
  "attentionDecode",
  "tokenStatsForward",
  "tokenStatsBackward",
  "rmsnormForward",
  "rmsnormBackward",
  "swigluForward",
  "swigluBackward",
  "adamw",
  "axpy",
  "binary",
  "binaryBackward",
  "unary",
  "unaryBackward",
  "affine",
  "addRowVector",
  "sumRowsAcc",
  "sumRows",
  "broadcastRows",
  "rope",
  "embedding",
  "embeddingBackward",
] as const;
export type ParallelKernel = (typeof PARALLEL_KERNELS)[number];

export function instantiate(module: WasmModule, memory: WasmMemory): Kernels {
  const inst = new wasmApi.Instance(module, { env: { memory } });
  return inst.exports as unknown as Kernels;
}
