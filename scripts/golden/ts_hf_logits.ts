// Used by hf_transformers_parity.py: rlif's side of the comparison with transformers.
// Usage: ts_hf_logits.ts MODEL_DIR IDS_JSON OUT_SAFETENSORS [PROBLEM]
// Loads MODEL_DIR as rlif does (any supported family, sharded or not, F32/BF16/F16), runs the
// forward pass on the [B][T] token ids in IDS_JSON on the float32 backend, and writes the logits
// [B, T, V] (F32) to OUT_SAFETENSORS; with PROBLEM, also prints rlif's prompt for it (the folder's
// chat template) as JSON on stdout, for comparison with apply_chat_template.
import { readFileSync } from "node:fs";
import { CpuBackend } from "../../src/engine/backends/cpu/backend.ts";
import { noGrad, setBackend } from "../../src/engine/tensor.ts";
import { loadModel } from "../../src/model/checkpoint.ts";
import { loadHfFolder } from "../../src/model/hf-folder.ts";
import { writeSafetensorsFileAtomic } from "../../src/model/safetensors.ts";

const [dir, idsPath, out, problem] = process.argv.slice(2);
if (!out) {
  console.error("usage: ts_hf_logits.ts MODEL_DIR IDS_JSON OUT_SAFETENSORS [PROBLEM]");
  process.exit(2);
}
setBackend(new CpuBackend("f32"));
const rows = JSON.parse(readFileSync(idsPath, "utf8")) as number[][];
const B = rows.length;
const T = rows[0].length;
const model = loadModel(dir);
const logits = noGrad(() => model.forward(Int32Array.from(rows.flat()), B, T));
const V = model.dims.V;
writeSafetensorsFileAtomic(
  out,
  new Map([["logits", { shape: [B, T, V], data: Float32Array.from(logits.readSync()) }]]),
);
if (problem !== undefined) console.log(JSON.stringify({ prompt: loadHfFolder(dir).prompt(problem) }));
