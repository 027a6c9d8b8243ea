// Picks the compute backend for a command: the WebAssembly SIMD backend by default, or the
// portable TypeScript one (`--backend js`). The wasm module is imported only when it is used.

import type { Backend } from "../engine/backend.ts";
import { CpuBackend } from "../engine/backends/cpu/backend.ts";
import { formatRoutes } from "../engine/routes.ts";
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

/** `rlif info --backend`: the backend, then each op and where it runs (kernel, thread split, or the
 *  TypeScript reference) under which condition. */
export function describeBackend(be: Backend): string {
  const threads = (be as { threads?: number }).threads ?? 1;
  const lines = [`backend ${be.name} (${be.dtype}, ${threads} thread${threads > 1 ? "s" : ""})`];
  if (!be.routes) return [...lines, "  (this backend does not list where its ops run)"].join("\n");
  lines.push(...formatRoutes(be.routes, threads).map((l) => `  ${l}`));
  if (be.routes.matmul.some((r) => r.runs === "wasm"))
    lines.push("  Any op given a storage outside the backend's memory runs the TS reference.");
  return lines.join("\n");
}
