// Picks the compute backend for a command: the WebAssembly SIMD backend by default, or the
// portable TypeScript one (`--backend js`). The wasm module is imported only when it is used.

import { CpuBackend } from "../engine/backends/cpu/backend.ts";
import { setBackend } from "../engine/tensor.ts";

export type BackendChoice = "auto" | "wasm" | "js";

export async function initBackend(choice: BackendChoice = "auto", threads?: number): Promise<string> {
  if (choice !== "auto" && choice !== "wasm" && choice !== "js")
    throw new Error(`--backend: unknown backend "${choice}" (auto, wasm or js)`);
  if (choice !== "js") {
    const { createWasmBackend } = await import("../engine/backends/cpu/wasm-backend.ts");
    const be = createWasmBackend({ threads });
    setBackend(be);
    return be.name;
  }
  const be = new CpuBackend("f32");
  setBackend(be);
  return be.name;
}
