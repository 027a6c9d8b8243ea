// Model folders in the Hugging Face layout (config.json, model.safetensors, tokenizer.json) and
// training checkpoints built on them. A checkpoint folder is written under a temporary name and
// renamed into place, then `latest.json` is atomically pointed at it: an interrupted write never
// replaces a good checkpoint. Each checkpoint also records the SHA-256 of every file it wrote
// (checksums.sha256); loading verifies them, so a file damaged later makes the checkpoint
// unusable instead of silently resuming from altered weights or state.

import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { AdamW } from "../engine/optim.ts";
import type { Tensor } from "../engine/tensor.ts";
import { readChecksums, sha256Hex, verifyChecksums, writeChecksums } from "../util/checksums.ts";
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

/** Write `text` to dir/name atomically; returns its SHA-256. */
function writeTextFile(dir: string, name: string, text: string): string {
  writeFileAtomic(join(dir, name), text);
  return sha256Hex(text);
}

/** Save config.json + model.safetensors (F32; + tokenizer.json when given) into dir; returns the
 *  SHA-256 of each file written, by name. */
export async function saveModel(
  dir: string,
  model: Transformer,
  tokenizerJson?: string,
): Promise<Map<string, string>> {
  const drop = await hostReadable(model.parameters().values());
  try {
    mkdirSync(dir, { recursive: true });
    const sums = new Map<string, string>();
    sums.set(
      "model.safetensors",
      writeSafetensorsFileAtomic(join(dir, "model.safetensors"), lazyTensors(model.parameters()), {
        format: "pt",
      }),
    );
    // The weights are F32 here whatever the model was loaded from (a BF16 hub model says bfloat16).
    const config = model.config.torch_dtype ? { ...model.config, torch_dtype: "float32" } : model.config;
    sums.set("config.json", writeTextFile(dir, "config.json", `${JSON.stringify(config, null, 2)}\n`));
    if (tokenizerJson !== undefined)
      sums.set("tokenizer.json", writeTextFile(dir, "tokenizer.json", tokenizerJson));
    return sums;
  } finally {
    drop();
  }
}

/** A model folder: config.json and its weights, single or sharded, F32/BF16/F16 (read tensor by
 *  tensor). A folder with a checksum manifest (a checkpoint) is verified against it first. */
export function loadModel(dir: string): Transformer {
  const sums = readChecksums(dir);
  if (sums) verifyChecksums(dir, sums, ["config.json", "model.safetensors"]);
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

/** The folder of the checkpoint after `step` in a run folder. */
export const checkpointDir = (runDir: string, step: number) => join(runDir, "checkpoints", stepDir(step));

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
  const sums = await saveModel(tmp, model, opts.tokenizerJson);
  if (opt) {
    const drop = await hostReadable(opt.stateTensors().values());
    try {
      sums.set(
        "optimizer.safetensors",
        writeSafetensorsFileAtomic(join(tmp, "optimizer.safetensors"), lazyTensors(opt.stateTensors()), {
          step: String(opt.step),
        }),
      );
    } finally {
      drop();
    }
  }
  sums.set(
    "trainer_state.json",
    writeTextFile(tmp, "trainer_state.json", `${JSON.stringify(state, null, 2)}\n`),
  );
  writeChecksums(tmp, sums);
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

/** Load a checkpoint folder, verifying every file against its checksum manifest (a checkpoint
 *  written before rlif recorded checksums has none and loads unverified). */
export function loadCheckpointDir(dir: string): LoadedCheckpoint {
  const sums = readChecksums(dir);
  const optPath = join(dir, "optimizer.safetensors");
  if (sums)
    verifyChecksums(dir, sums, [
      "trainer_state.json",
      ...(existsSync(optPath) || sums.has("optimizer.safetensors") ? ["optimizer.safetensors"] : []),
    ]);
  const model = loadModel(dir);
  const statePath = join(dir, "trainer_state.json");
  let state: CheckpointState;
  try {
    state = JSON.parse(readFileSync(statePath, "utf8"));
  } catch (e) {
    throw new Error(`${statePath}: unreadable trainer state (${(e as Error).message})`);
  }
  if (typeof state.step !== "number") throw new Error(`${statePath}: no step`);
  let optimizer: LoadedCheckpoint["optimizer"] = null;
  if (existsSync(optPath)) {
    const { tensors, metadata } = readSafetensorsFile(optPath);
    optimizer = { step: Number(metadata.step ?? state.step), tensors };
  }
  return { dir, model, state, optimizer };
}

/** A checkpoint that failed to load, and why. */
export interface UnusableCheckpoint {
  dir: string;
  reason: string;
}

/**
 * The newest checkpoint that loads, and every newer one that did not (with why). Nothing is
 * deleted or changed: an interrupted or damaged write costs at most the steps since the previous
 * checkpoint, and the caller decides what to do when none loads.
 */
export function scanCheckpoints(runDir: string): {
  loaded: LoadedCheckpoint | null;
  unusable: UnusableCheckpoint[];
} {
  const unusable: UnusableCheckpoint[] = [];
  for (const dir of listCheckpoints(runDir).reverse()) {
    try {
      return { loaded: loadCheckpointDir(dir), unusable };
    } catch (e) {
      unusable.push({ dir, reason: (e as Error).message });
    }
  }
  return { loaded: null, unusable };
}

/** The newest checkpoint that loads; each newer, unusable one is reported through `warn`. */
export function loadLatestCheckpoint(
  runDir: string,
  warn: (msg: string) => void = console.warn,
): LoadedCheckpoint | null {
  const { loaded, unusable } = scanCheckpoints(runDir);
  for (const u of unusable) warn(`checkpoint ${u.dir} is unusable, trying an older one: ${u.reason}`);
  return loaded;
}
