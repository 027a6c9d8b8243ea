// Picks the compute backend for a command: a hardware GPU through WebGPU when there is one, else the
// WebAssembly SIMD backend (`auto`); or exactly `webgpu`, `wasm`, or the portable TypeScript one
// (`js`). The wasm module and Dawn are imported only when used.

import { existsSync, readdirSync } from "node:fs";
import type { Backend } from "../engine/backend.ts";
import { CpuBackend } from "../engine/backends/cpu/backend.ts";
import { formatRoutes } from "../engine/routes.ts";
import { setBackend } from "../engine/tensor.ts";

export type BackendChoice = "auto" | "webgpu" | "wasm" | "js";
const CHOICES: readonly BackendChoice[] = ["auto", "webgpu", "wasm", "js"];

/** Whether the OS shows a GPU at all: `auto` skips loading Dawn (and its driver warnings) on
 *  machines that have none. macOS and Windows always have a GPU driver. */
function mayHaveGpu(): boolean {
  if (process.platform !== "linux") return true;
  if (existsSync("/dev/nvidia0")) return true;
  try {
    return readdirSync("/dev/dri").some((f) => f.startsWith("renderD"));
  } catch {
    return false;
  }
}

export async function initBackend(choice: BackendChoice = "auto", threads?: number): Promise<string> {
  if (!CHOICES.includes(choice))
    throw new Error(`--backend: unknown backend "${choice}" (${CHOICES.join(", ")})`);
  if (choice === "webgpu" || (choice === "auto" && mayHaveGpu())) {
    try {
      const { createWebGpuBackend } = await import("../engine/backends/webgpu/backend.ts");
      // auto never takes a software adapter (SwiftShader): the CPU backends are faster.
      const be = await createWebGpuBackend({ allowSoftware: choice === "webgpu" });
      setBackend(be);
      return be.name;
    } catch (e) {
      if (choice === "webgpu") throw e; // one sentence: what is missing
    }
  }
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
