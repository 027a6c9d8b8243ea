// The RL trainer on the WebGPU backend (SwiftShader in CI): a short run on the toy world logs the
// CPU backend's metrics, step by step, within float32 tolerance; its checkpoints are the CPU's
// format (a GPU checkpoint loads on the CPU with the CPU run's weights). The same comparison on the
// organism (`rlif train --backend webgpu` vs `--backend js`) takes minutes a step on SwiftShader,
// so it is a manual check, not a CI test.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { Backend } from "../src/engine/backend.ts";
import { CpuBackend } from "../src/engine/backends/cpu/backend.ts";
import type { WebGpuBackend } from "../src/engine/backends/webgpu/backend.ts";
import { getBackend, setBackend } from "../src/engine/tensor.ts";
import { loadCheckpointDir } from "../src/model/checkpoint.ts";
import { trainRl } from "../src/rl/trainer.ts";
import { toyConfig, toyDeps, toyModel } from "./helpers/toy-rl.ts";
import { skipWebGpu, testGpuBackend } from "./helpers/webgpu.ts";

let gpu: WebGpuBackend;
let dir: string;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), "rlif-webgpu-train-"));
  if (!skipWebGpu) gpu = await testGpuBackend();
});
after(() => {
  gpu?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

async function run(b: Backend, out: string) {
  const prev = getBackend();
  setBackend(b);
  try {
    const rollout = { prompts_per_step: 2, group_size: 4, max_new_tokens: 3, batch_size: 8 };
    await trainRl(toyModel(0), toyConfig(out, { steps: 2, reward: "self-certainty", rollout }), toyDeps());
  } finally {
    setBackend(prev);
  }
  return readFileSync(join(out, "metrics.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((m) => (m.step as number) > 0 && !m.event);
}

test("a short RL run on WebGPU logs the CPU's metrics; its checkpoints load on the CPU", {
  skip: skipWebGpu,
}, async () => {
  const cpu = new CpuBackend("f32");
  const c = await run(cpu, join(dir, "cpu"));
  const g = await run(gpu, join(dir, "gpu"));
  assert.equal(g.length, c.length);
  assert.equal(c.length, 2);
  for (let i = 0; i < c.length; i++)
    for (const [k, v] of Object.entries(c[i])) {
      if (k.startsWith("time") || k.endsWith("per_s") || typeof v !== "number") continue;
      const x = g[i][k] as number;
      assert.ok(Math.abs(x - v) <= 1e-4 + 1e-3 * Math.abs(v), `step ${i + 1} ${k}: WebGPU ${x}, CPU ${v}`);
    }
  // A GPU checkpoint is an ordinary checkpoint: on the CPU it holds the CPU run's weights.
  const prev = getBackend();
  setBackend(cpu);
  try {
    const fromGpu = loadCheckpointDir(join(dir, "gpu", "checkpoints", "step-0000002"));
    const fromCpu = loadCheckpointDir(join(dir, "cpu", "checkpoints", "step-0000002"));
    assert.equal(fromGpu.optimizer?.step, fromCpu.optimizer?.step);
    for (const [n, p] of fromCpu.model.parameters()) {
      const a = fromGpu.model.p(n).readSync();
      const b = p.readSync();
      for (let i = 0; i < b.length; i++)
        assert.ok(Math.abs(a[i] - b[i]) <= 1e-4, `${n}[${i}]: ${a[i]} vs ${b[i]}`);
    }
  } finally {
    setBackend(prev);
  }
});
