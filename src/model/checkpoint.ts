// Model folders in the Hugging Face layout (config.json, model.safetensors, tokenizer.json) and
// training checkpoints built on them. A checkpoint folder is written under a temporary name and
// renamed into place, then `latest.json` is atomically pointed at it: an interrupted write never
// replaces a good checkpoint.

import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { AdamW } from "../engine/optim.ts";
import type { Tensor } from "../engine/tensor.ts";
import { fsyncDir, writeFileAtomic } from "../util/fs.ts";
import { type ModelConfig, parseModelConfig } from "./config.ts";
import { readSafetensorsFile, type TensorToSave, writeSafetensorsFileAtomic } from "./safetensors.ts";
import { Transformer } from "./transformer.ts";
import { ModelWeights } from "./weights.ts";

/** Tensors read from the backend one at a time, as the file is written (never all at once). */
export function lazyTensors(tensors: Iterable<[string, Tensor]>): Map<string, TensorToSave> {
  const out = new Map<string, TensorToSave>();
  for (const [name, t] of tensors)
    out.set(name, { shape: t.shape, numel: t.size, data: () => Float32Array.from(t.readSync()) });
  return out;
}

export function readModelConfig(dir: string): ModelConfig {
  const path = join(dir, "config.json");
  if (!existsSync(path)) throw new Error(`no config.json in ${dir}`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new Error(`${path}: not valid JSON (${(e as Error).message})`);
  }
  return parseModelConfig(raw, path);
}

/** Save config.json + model.safetensors (F32; + tokenizer.json when given) into dir. */
/** On a backend that cannot read synchronously (WebGPU), fetch the tensors' values first so the
 *  lazy writers can read them; returns what drops those copies again. A no-op on the CPU. */
async function hostReadable(tensors: Iterable<Tensor>): Promise<() => void> {
  const list = [...tensors];
  const be = list[0]?.backend as { sumSquaresAsync?: unknown } | undefined;
  if (typeof be?.sumSquaresAsync !== "function") return () => {};
  for (const t of list) await t.fetchToHost();
  return () => {
    for (const t of list) t.dropHostCopy();
  };
}

export async function saveModel(dir: string, model: Transformer, tokenizerJson?: string): Promise<void> {
  const drop = await hostReadable(model.parameters().values());
  try {
    mkdirSync(dir, { recursive: true });
    writeSafetensorsFileAtomic(join(dir, "model.safetensors"), lazyTensors(model.parameters()), {
      format: "pt",
    });
    // The weights are F32 here whatever the model was loaded from (a BF16 hub model says bfloat16).
    const config = model.config.torch_dtype ? { ...model.config, torch_dtype: "float32" } : model.config;
    writeFileAtomic(join(dir, "config.json"), `${JSON.stringify(config, null, 2)}\n`);
    if (tokenizerJson !== undefined) writeFileAtomic(join(dir, "tokenizer.json"), tokenizerJson);
  } finally {
    drop();
  }
}

/** A model folder: config.json and its weights, single or sharded, F32/BF16/F16 (read tensor by tensor). */
export function loadModel(dir: string): Transformer {
  const config = readModelConfig(dir);
  const weights = ModelWeights.open(dir);
  try {
    return Transformer.fromWeights(config, weights);
  } catch (e) {
    throw new Error(`${weights.describe()}: ${(e as Error).message}`);
  } finally {
    weights.close();
  }
}

// ---------------------------------------------------------------- training checkpoints
export interface CheckpointState {
  step: number;
  /** Anything the trainer needs to continue exactly: RNG states, data cursor, best metric... */
  [key: string]: unknown;
}

const stepDir = (step: number) => `step-${String(step).padStart(7, "0")}`;

/** Write a full checkpoint (model, optimizer, trainer state) under runDir/checkpoints. */
export async function saveCheckpoint(
  runDir: string,
  model: Transformer,
  opt: AdamW | null,
  state: CheckpointState,
  opts: { tokenizerJson?: string; keep?: number } = {},
): Promise<string> {
  const root = join(runDir, "checkpoints");
  mkdirSync(root, { recursive: true });
  const name = stepDir(state.step);
  const tmp = join(root, `.${name}.tmp`);
  rmSync(tmp, { recursive: true, force: true });
  await saveModel(tmp, model, opts.tokenizerJson);
  if (opt) {
    const drop = await hostReadable(opt.stateTensors().values());
    try {
      writeSafetensorsFileAtomic(join(tmp, "optimizer.safetensors"), lazyTensors(opt.stateTensors()), {
        step: String(opt.step),
      });
    } finally {
      drop();
    }
  }
  writeFileAtomic(join(tmp, "trainer_state.json"), `${JSON.stringify(state, null, 2)}\n`);
  const final = join(root, name);
  rmSync(final, { recursive: true, force: true });
  renameSync(tmp, final);
  fsyncDir(root);
  writeFileAtomic(join(root, "latest.json"), `${JSON.stringify({ step: state.step, dir: name })}\n`);
  const keep = opts.keep ?? 3;
  const all = listCheckpoints(runDir);
  for (const old of all.slice(0, Math.max(0, all.length - keep)))
    if (!old.endsWith(name) && !isPinned(runDir, old)) rmSync(old, { recursive: true, force: true });
  return final;
}

/** A checkpoint named in `pinned.json` (e.g. the best one, for roll-back) is never pruned. */
function isPinned(runDir: string, dir: string): boolean {
  const p = join(runDir, "checkpoints", "pinned.json");
  if (!existsSync(p)) return false;
  try {
    return (JSON.parse(readFileSync(p, "utf8")) as string[]).some((n) => dir.endsWith(n));
  } catch {
    return false;
  }
}

/** Pins `dirs` (replacing the previous pins). */
export function pinCheckpoint(runDir: string, dirs: string | string[]): void {
  const names = [dirs].flat().map((d) => d.split("/").pop()!);
  writeFileAtomic(join(runDir, "checkpoints", "pinned.json"), JSON.stringify([...new Set(names)]));
}

/** Checkpoint folders, oldest first. */
export function listCheckpoints(runDir: string): string[] {
  const root = join(runDir, "checkpoints");
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((n) => /^step-\d+$/.test(n))
    .sort()
    .map((n) => join(root, n));
}

export interface LoadedCheckpoint {
  dir: string;
  model: Transformer;
  state: CheckpointState;
  optimizer: { step: number; tensors: Map<string, { data: Float32Array }> } | null;
}

export function loadCheckpointDir(dir: string): LoadedCheckpoint {
  const model = loadModel(dir);
  const statePath = join(dir, "trainer_state.json");
  let state: CheckpointState;
  try {
    state = JSON.parse(readFileSync(statePath, "utf8"));
  } catch (e) {
    throw new Error(`${statePath}: unreadable trainer state (${(e as Error).message})`);
  }
  if (typeof state.step !== "number") throw new Error(`${statePath}: no step`);
  const optPath = join(dir, "optimizer.safetensors");
  let optimizer: LoadedCheckpoint["optimizer"] = null;
  if (existsSync(optPath)) {
    const { tensors, metadata } = readSafetensorsFile(optPath);
    optimizer = { step: Number(metadata.step ?? state.step), tensors };
  }
  return { dir, model, state, optimizer };
}

/**
 * The newest checkpoint that loads. A corrupt one is reported through `warn` and skipped (never
 * deleted), so an interrupted or damaged write costs at most the steps since the previous one.
 */
export function loadLatestCheckpoint(
  runDir: string,
  warn: (msg: string) => void = console.warn,
): LoadedCheckpoint | null {
  const all = listCheckpoints(runDir).reverse();
  for (const dir of all) {
    try {
      return loadCheckpointDir(dir);
    } catch (e) {
      warn(`checkpoint ${dir} is unusable, trying an older one: ${(e as Error).message}`);
    }
  }
  return null;
}
