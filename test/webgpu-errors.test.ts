// How the WebGPU backend fails: `--backend webgpu` without an adapter stops the command with one
// sentence (no stack trace); a lost device is reported as GpuDeviceLostError by the next operation.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { GpuDeviceLostError } from "../src/engine/backends/webgpu/device.ts";
import { skipWebGpu, testGpuBackend } from "./helpers/webgpu.ts";

test("--backend webgpu with no adapter fails with one sentence", () => {
  const r = spawnSync(process.execPath, ["bin/rlif.mjs", "--backend", "webgpu", "info", "organism-base"], {
    encoding: "utf8",
    env: { ...process.env, VK_ICD_FILENAMES: "/nonexistent/icd.json" },
  });
  assert.equal(r.status, 1);
  const ours = r.stderr.split("\n").filter((l) => l.startsWith("rlif:"));
  assert.deepEqual(ours, [
    "rlif: WebGPU is unavailable: no GPU adapter was found (no Vulkan/Metal/D3D12 driver that Dawn accepts; on a CPU-only machine set VK_ICD_FILENAMES to SwiftShader's ICD, see scripts/setup-swiftshader.sh).",
  ]);
  assert.doesNotMatch(r.stderr, /\n\s+at .*\.ts:\d+/, "no stack trace");
});

test("a lost device is a GpuDeviceLostError at the next operation", { skip: skipWebGpu }, async () => {
  const be = await testGpuBackend();
  const s = be.alloc(4);
  be.device.destroy(); // what a driver reset looks like from here
  await be.device.lost;
  await new Promise((r) => setTimeout(r, 0));
  assert.throws(() => be.alloc(4), GpuDeviceLostError);
  await assert.rejects(
    be.read(s),
    (e: Error) => e instanceof GpuDeviceLostError && /device was lost/.test(e.message),
  );
  be.dispose();
});
