// `rlif info`: what a model folder is and whether each backend can evaluate or train it, from
// config.json and the safetensors headers alone.

import { existsSync } from "node:fs";
import { join } from "node:path";
import { readModelConfig } from "../model/checkpoint.ts";
import { dimsOf, ropeScalingOf } from "../model/config.ts";
import { type Backend, backendLimitBytes, gib, memoryNeeds } from "../model/memory.ts";
import { ModelWeights, weightsSummary } from "../model/weights.ts";

/** Bytes from "5GB", "500MB", "2GiB" or a plain number (decimal units, as transformers). */
export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMG]i?B)?\s*$/i.exec(text);
  if (!m) throw new Error(`--max-shard-size: expected e.g. 5GB, 500MB or a number of bytes, got ${text}`);
  const unit = (m[2] ?? "").toUpperCase();
  const scale: Record<string, number> = {
    "": 1,
    KB: 1e3,
    MB: 1e6,
    GB: 1e9,
    KIB: 2 ** 10,
    MIB: 2 ** 20,
    GIB: 2 ** 30,
  };
  return Math.floor(Number(m[1]) * scale[unit]);
}

const count = (n: number) =>
  n >= 1e9 ? `${(n / 1e9).toFixed(2)}B` : n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : `${(n / 1e3).toFixed(1)}K`;

export function describeModelFolder(dir: string): string {
  const c = readModelConfig(dir);
  const d = dimsOf(c);
  const stored = weightsSummary(dir);
  const w = ModelWeights.open(dir);
  const files = new Set([...w.tensors.values()].map((t) => t.file)).size;
  w.close();
  const needs = memoryNeeds(c);
  const scaling = ropeScalingOf(c);
  const lines = [
    `${dir}: ${c.model_type} (${c.architectures.join(", ")}), ${count(needs.parameters)} parameters` +
      `, stored ${stored.dtypes.join("+")} in ${files === 1 ? "one file" : `${files} shards`} (${gib(stored.bytes)})`,
    `  layers ${d.L}, hidden ${d.d}, heads ${d.Hq} (kv ${d.Hkv}) x ${d.D}, mlp ${d.ff}, vocab ${d.V}, ` +
      `tied ${c.tie_word_embeddings}, context ${c.max_position_embeddings}, rope theta ${c.rope_theta}` +
      (scaling ? `, llama3 scaling x${scaling.factor}` : "") +
      (d.qkNorm ? ", q/k head norm" : "") +
      (d.qkvBias ? ", q/k/v bias" : ""),
    `  tokenizer: ${existsSync(join(dir, "tokenizer.json")) ? "tokenizer.json" : "none in this folder"}`,
    "  memory (the engine holds float32; estimates for rlif eval and rlif train defaults):",
  ];
  for (const backend of ["wasm", "js"] as Backend[]) {
    const limit = backendLimitBytes(backend);
    const cell = (bytes: number) => `${gib(bytes)} (${bytes <= limit ? "fits" : "too big"})`;
    lines.push(
      `    ${backend.padEnd(4)}  limit ${gib(limit).padEnd(10)}  eval ${cell(needs.evalBytes).padEnd(22)}  train ${cell(needs.trainBytes)}`,
    );
  }
  return lines.join("\n");
}
