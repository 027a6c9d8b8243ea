#!/usr/bin/env node
// Compiles the AssemblyScript kernels (src/engine/backends/cpu/wasm/assembly) into the two
// committed modules: kernels.wasm (WebAssembly SIMD) and kernels-relaxed.wasm (plus relaxed SIMD,
// whose fused multiply-add the loader uses where the engine supports it).
// Usage: node scripts/build-wasm.mjs [--out DIR]   (default: next to the sources)
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import asc from "assemblyscript/asc";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const wasmDir = join(root, "src/engine/backends/cpu/wasm");
const outIdx = process.argv.indexOf("--out");
const outDir = outIdx >= 0 ? process.argv[outIdx + 1] : wasmDir;

/** Flags shared by both builds: imported shared memory (grown by JS), no GC runtime, no traps on asserts. */
export const common = [
  join(wasmDir, "assembly/index.ts"),
  "-O3",
  "--noAssert",
  "--runtime",
  "stub",
  "--importMemory",
  "--sharedMemory",
  "--initialMemory",
  "1",
  "--maximumMemory",
  "65536",
  "--enable",
  "simd",
  "--enable",
  "threads",
  "--use",
  "abort=",
];

async function build(name, extra) {
  const { error, stderr } = await asc.main([...common, ...extra, "--outFile", join(outDir, name)]);
  if (error) {
    console.error(stderr.toString());
    throw new Error(`asc failed for ${name}: ${error.message}`);
  }
}

await build("kernels.wasm", []);
await build("kernels-relaxed.wasm", ["--enable", "relaxed-simd"]);
console.log(`wrote kernels.wasm and kernels-relaxed.wasm to ${outDir}`);
