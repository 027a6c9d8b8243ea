// The WebGPU backend for tests: SwiftShader (software Vulkan) on machines without a GPU.
// scripts/setup-swiftshader.sh installs it into .swiftshader/ (CI runs it); RLIF_SWIFTSHADER_ICD
// points elsewhere, and an explicit VK_ICD_FILENAMES wins (a real GPU driver, say).
// RLIF_SKIP_WEBGPU=1 skips the WebGPU tests on purpose; otherwise a missing adapter fails them.
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { createWebGpuBackend, type WebGpuBackend } from "../../src/engine/backends/webgpu/backend.ts";

export const skipWebGpu = process.env.RLIF_SKIP_WEBGPU === "1";

export async function testGpuBackend(): Promise<WebGpuBackend> {
  const icd =
    process.env.RLIF_SWIFTSHADER_ICD ?? resolve(".swiftshader/usr/lib/chromium/vk_swiftshader_icd.json");
  if (!process.env.VK_ICD_FILENAMES) {
    if (!existsSync(icd))
      throw new Error(
        `no SwiftShader at ${icd}: run scripts/setup-swiftshader.sh (or set RLIF_SKIP_WEBGPU=1 to skip the WebGPU tests)`,
      );
    process.env.VK_ICD_FILENAMES = icd;
  }
  return createWebGpuBackend({ allowSoftware: true });
}
