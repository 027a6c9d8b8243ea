// Used by make_golden.py to check interchange with Python: read each safetensors file with rlif's
// reader (in float64, so F64 tensors stay exact) and write it back with rlif's writer, keeping the
// stored dtype (F32 or F64). Usage: ts_resave.ts IN OUT [IN OUT ...]
import {
  readSafetensorsFileF64,
  type TensorToSave,
  writeSafetensorsFileAtomic,
} from "../../src/model/safetensors.ts";

const args = process.argv.slice(2);
if (args.length === 0 || args.length % 2) {
  console.error("usage: ts_resave.ts IN OUT [IN OUT ...]");
  process.exit(2);
}
for (let i = 0; i < args.length; i += 2) {
  const { tensors, metadata } = readSafetensorsFileF64(args[i]);
  const out = new Map<string, TensorToSave>();
  for (const [name, t] of tensors) {
    if (t.dtype !== "F32" && t.dtype !== "F64")
      throw new Error(`${args[i]}: ${name} is ${t.dtype}, not F32/F64`);
    out.set(name, { shape: t.shape, data: t.dtype === "F32" ? Float32Array.from(t.data) : t.data });
  }
  writeSafetensorsFileAtomic(args[i + 1], out, metadata);
}
