// A model folder's weights in the Hugging Face layout: one `model.safetensors`, or shards named by
// `model.safetensors.index.json` ({"metadata": {"total_size"}, "weight_map": {tensor: file}}).
// Opening reads and cross-checks only the headers; each tensor is read (and converted from
// F32/BF16/F16 to Float32) when the model asks for it, so a model never sits in memory twice.
// Saving writes the same layout as transformers' save_pretrained: shards
// `model-00001-of-0000N.safetensors` above a size, the index beside them, dtype by choice.

import { existsSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { readJsonFile, writeFileAtomic } from "../util/fs.ts";
import {
  dtypeBytes,
  SafetensorsFile,
  type SaveDtype,
  type TensorInfo,
  type TensorToSave,
  writeSafetensorsFileAtomic,
} from "./safetensors.ts";
import type { WeightLookup, WeightSource } from "./transformer.ts";

export const SINGLE_FILE = "model.safetensors";
export const INDEX_FILE = "model.safetensors.index.json";

export interface StoredTensor extends TensorInfo {
  /** The file (within the folder) that holds it. */
  file: string;
}

/** The weights of a model folder, open for reading tensor by tensor. Close when done. */
export class ModelWeights implements WeightLookup {
  private constructor(
    readonly dir: string,
    /** Every tensor, by name, with the file that holds it. */
    readonly tensors: Map<string, StoredTensor>,
    private readonly files: Map<string, SafetensorsFile>,
  ) {}

  /** Open dir's weights: the index and its shards if there is an index, else model.safetensors. */
  static open(dir: string): ModelWeights {
    const indexPath = join(dir, INDEX_FILE);
    if (existsSync(indexPath)) return ModelWeights.openSharded(dir, indexPath);
    const single = join(dir, SINGLE_FILE);
    if (!existsSync(single))
      throw new Error(`${dir}: no ${SINGLE_FILE} and no ${INDEX_FILE}: not a model folder with weights`);
    const f = SafetensorsFile.open(single);
    const tensors = new Map<string, StoredTensor>();
    for (const [name, info] of f.tensors()) tensors.set(name, { ...info, file: SINGLE_FILE });
    return new ModelWeights(dir, tensors, new Map([[SINGLE_FILE, f]]));
  }

  private static openSharded(dir: string, indexPath: string): ModelWeights {
    const weightMap = readWeightMap(indexPath);
    const byFile = new Map<string, string[]>();
    for (const [name, file] of weightMap) byFile.set(file, [...(byFile.get(file) ?? []), name]);
    const files = new Map<string, SafetensorsFile>();
    const tensors = new Map<string, StoredTensor>();
    try {
      for (const [file, names] of byFile) {
        const path = join(dir, file);
        if (!existsSync(path))
          throw new Error(
            `${path}: shard missing: ${INDEX_FILE} places ${names.length} tensors in it (e.g. ${names[0]})`,
          );
        const f = SafetensorsFile.open(path);
        files.set(file, f);
        const held = f.tensors();
        for (const name of names)
          if (!held.has(name))
            throw new Error(`${path}: lacks tensor ${name}, which ${INDEX_FILE} places in this shard`);
        for (const [name, info] of held) {
          const listed = weightMap.get(name);
          if (listed !== file)
            throw new Error(
              `${path}: holds tensor ${name}, which ${INDEX_FILE} ` +
                (listed ? `places in ${listed}` : "does not list"),
            );
          tensors.set(name, { ...info, file });
        }
      }
    } catch (e) {
      for (const f of files.values()) f.close();
      throw e;
    }
    return new ModelWeights(dir, tensors, files);
  }

  /** The file to name in an error about the weights as a whole. */
  describe(): string {
    const files = [...this.files.keys()];
    return join(this.dir, files.length === 1 ? files[0] : INDEX_FILE);
  }

  get(name: string): WeightSource | undefined {
    const t = this.tensors.get(name);
    if (!t) return undefined;
    const { shape, data } = this.files.get(t.file)!.read(name);
    return { shape, data };
  }

  close(): void {
    for (const f of this.files.values()) f.close();
  }
}

/** weight_map of an index file, checked: an object of tensor name -> shard file name. */
function readWeightMap(indexPath: string): Map<string, string> {
  const raw = readJsonFile<{ weight_map?: unknown }>(indexPath);
  const wm = raw?.weight_map;
  if (typeof wm !== "object" || wm === null || Array.isArray(wm))
    throw new Error(`${indexPath}: no "weight_map" object`);
  const out = new Map<string, string>();
  for (const [name, file] of Object.entries(wm)) {
    if (typeof file !== "string" || file.includes("/") || file.includes("\\") || file.startsWith("."))
      throw new Error(
        `${indexPath}: weight_map.${name}: ${JSON.stringify(file)} is not a file name in the folder`,
      );
    out.set(name, file);
  }
  if (out.size === 0) throw new Error(`${indexPath}: weight_map is empty`);
  return out;
}

/** Summary of a folder's weights from the headers alone: parameter count, bytes, dtypes. */
export function weightsSummary(dir: string): { parameters: number; bytes: number; dtypes: string[] } {
  const w = ModelWeights.open(dir);
  try {
    let parameters = 0;
    let bytes = 0;
    const dtypes = new Set<string>();
    for (const t of w.tensors.values()) {
      const n = t.shape.reduce((a, b) => a * b, 1);
      parameters += n;
      bytes += n * dtypeBytes(t.dtype);
      dtypes.add(t.dtype);
    }
    return { parameters, bytes, dtypes: [...dtypes].sort() };
  } finally {
    w.close();
  }
}

export interface SaveWeightsOptions {
  dtype?: SaveDtype;
  /** Largest shard in bytes; a model above it is split (transformers' default is 5 GB). */
  maxShardBytes?: number;
}

export const DEFAULT_MAX_SHARD_BYTES = 5_000_000_000;

/**
 * Write tensors (read lazily, one at a time) into dir as save_pretrained does: model.safetensors,
 * or model-0000i-of-0000N.safetensors + model.safetensors.index.json when they exceed the shard
 * size. Tensors go to shards in order, a new shard starting when the next one would not fit.
 * Weight files of a previous save that this one does not rewrite are removed afterwards.
 */
export function saveWeights(
  dir: string,
  tensors: ReadonlyMap<string, TensorToSave>,
  opts: SaveWeightsOptions = {},
): string[] {
  const maxBytes = opts.maxShardBytes ?? DEFAULT_MAX_SHARD_BYTES;
  const dtype = opts.dtype ?? "F32";
  const typed = new Map<string, TensorToSave>();
  for (const [n, t] of tensors) typed.set(n, { ...t, dtype });
  const shards: Map<string, TensorToSave>[] = [new Map()];
  let size = 0;
  const bytesOf = (t: TensorToSave) => t.shape.reduce((a, b) => a * b, 1) * dtypeBytes(dtype);
  for (const [name, t] of typed) {
    const bytes = bytesOf(t);
    const cur = shards[shards.length - 1];
    if (cur.size > 0 && size + bytes > maxBytes) {
      shards.push(new Map());
      size = 0;
    }
    shards[shards.length - 1].set(name, t);
    size += bytes;
  }
  const meta = { format: "pt" };
  let written: string[];
  if (shards.length === 1) {
    writeSafetensorsFileAtomic(join(dir, SINGLE_FILE), shards[0], meta);
    written = [SINGLE_FILE];
  } else {
    const n = shards.length;
    const pad = (i: number) => String(i).padStart(5, "0");
    written = shards.map((_, i) => `model-${pad(i + 1)}-of-${pad(n)}.safetensors`);
    const weightMap: Record<string, string> = {};
    let total = 0;
    shards.forEach((shard, i) => {
      writeSafetensorsFileAtomic(join(dir, written[i]), shard, meta);
      for (const [name, t] of shard) {
        weightMap[name] = written[i];
        total += bytesOf(t);
      }
    });
    const sorted = Object.fromEntries(
      Object.keys(weightMap)
        .sort()
        .map((k) => [k, weightMap[k]]),
    );
    writeFileAtomic(
      join(dir, INDEX_FILE),
      `${JSON.stringify({ metadata: { total_size: total }, weight_map: sorted }, null, 2)}\n`,
    );
    written.push(INDEX_FILE);
  }
  for (const f of readdirSync(dir))
    if ((f === INDEX_FILE || /^model(-\d{5}-of-\d{5})?\.safetensors$/.test(f)) && !written.includes(f))
      rmSync(join(dir, f), { force: true });
  return written;
}
