// Picks the compute backend for a command: the WebAssembly SIMD backend when it is available,
// else the portable TypeScript one.

import { existsSync } from "node:fs";
import { CpuBackend } from "../engine/backends/cpu/backend.ts";
import { setBackend } from "../engine/tensor.ts";

export type BackendChoice = "auto" | "wasm" | "js";

export async function initBackend(choice: BackendChoice = "auto", threads?: number): Promise<string> {
  if (choice !== "js") {
    const path = new URL("../engine/backends/cpu/wasm-backend.ts", import.meta.url);
    if (existsSync(path)) {
      const mod = await import(path.href);
      const be = await mod.createWasmBackend({ threads });
      setBackend(be);
      return be.name as string;
    }
    if (choice === "wasm") throw new Error("the WebAssembly backend is not available in this build");
  }
  const be = new CpuBackend("f32");
  setBackend(be);
  return be.name;
}
