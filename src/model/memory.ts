// How much memory a model needs for evaluation and for training on each backend, from its config
// alone, so that a model the backend cannot hold is refused before any weight is read (never after
// minutes of loading, never as an out-of-memory crash).
//
// The engine holds everything in float32 whatever the file's dtype. The estimates count what the
// engine allocates for the default workloads:
//   eval  = weights + KV cache (batch x context x layers x 2 x kv width) + one block's
//           activations of the prompt pass (batch x prompt x ~(4d + 2 q width + 3 ff)) + one
//           vocabulary-sized row of logits per sequence
//   train = weights + gradients + AdamW's two moments (+ the frozen reference with a KL term)
//           + activations kept for the backward pass over one mini-batch of sequences
//           (per token and layer ~ 8d + 4(q + kv widths) + 3 ff floats, plus ~4 vocab-sized rows)
// They are estimates, of the right order, not measurements.

import { totalmem } from "node:os";
import { dimsOf, type ModelConfig, parameterShapes } from "./config.ts";

export type Backend = "wasm" | "js";
export type Purpose = "eval" | "train";

/** What a run will do, in sequences and tokens (defaults: rlif eval and rlif train's). */
export interface Workload {
  evalBatch: number;
  /** Sequences in one optimizer mini-batch (rollout batch / mini_batches). */
  trainSequences: number;
  promptTokens: number;
  newTokens: number;
  /** A frozen reference copy (KL to the start model). */
  reference: boolean;
}

export const DEFAULT_WORKLOAD: Workload = {
  evalBatch: 64,
  trainSequences: 64,
  promptTokens: 256,
  newTokens: 160,
  reference: false,
};

const GiB = 2 ** 30;

/** The most each backend can hold: wasm32 memory is 65536 pages of 64 KiB; js uses the machine's RAM. */
export function backendLimitBytes(backend: Backend): number {
  return backend === "wasm" ? 4 * GiB : totalmem();
}

export interface MemoryNeeds {
  parameters: number;
  /** float32 weights as the engine holds them. */
  weightsBytes: number;
  evalBytes: number;
  trainBytes: number;
}

/** What one sequence of a sampling batch holds: its KV cache over `context` positions, one
 *  residual block's activations of its prompt pass (the model frees each block's once it is done
 *  when there is no autodiff) and a vocabulary-sized row of logits. */
export function sequenceEvalBytes(config: ModelConfig, promptTokens: number, context: number): number {
  const { d, Hq, Hkv, D, ff, V, L } = dimsOf(config);
  return 4 * (context * L * 2 * Hkv * D + promptTokens * (4 * d + 2 * Hq * D + 3 * ff) + V);
}

export function memoryNeeds(config: ModelConfig, w: Workload = DEFAULT_WORKLOAD): MemoryNeeds {
  const { d, Hq, Hkv, D, ff, V, L } = dimsOf(config);
  let parameters = 0;
  for (const [, shape] of parameterShapes(config)) parameters += shape.reduce((a, b) => a * b, 1);
  const f = 4;
  const weightsBytes = parameters * f;
  const context = w.promptTokens + w.newTokens;
  const evalBytes = weightsBytes + w.evalBatch * sequenceEvalBytes(config, w.promptTokens, context);
  const perToken = L * (8 * d + 4 * (Hq * D + Hkv * D) + 3 * ff) + 4 * V;
  const activations = w.trainSequences * context * perToken * f;
  const trainBytes = weightsBytes * (w.reference ? 5 : 4) + activations;
  return { parameters, weightsBytes, evalBytes, trainBytes };
}

/** Bytes in binary units, to three significant figures or one decimal. */
export function gib(bytes: number): string {
  if (bytes >= GiB) return `${(bytes / GiB).toFixed(1)} GiB`;
  if (bytes >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  return `${(bytes / 2 ** 10).toFixed(1)} KiB`;
}

/** Throws, naming the folder, the need and the limit, when `purpose` will not fit on `backend`. */
export function assertFits(
  folder: string,
  config: ModelConfig,
  backend: Backend,
  purpose: Purpose,
  w: Workload = DEFAULT_WORKLOAD,
): void {
  const needs = memoryNeeds(config, w);
  const need = purpose === "eval" ? needs.evalBytes : needs.trainBytes;
  const limit = backendLimitBytes(backend);
  if (need <= limit) return;
  const what =
    purpose === "eval"
      ? `evaluating it with batch ${w.evalBatch} and ${w.promptTokens}+${w.newTokens} tokens`
      : `training it on mini-batches of ${w.trainSequences} sequences of ${w.promptTokens}+${w.newTokens} tokens`;
  const where =
    backend === "wasm"
      ? "the wasm backend's WebAssembly memory holds at most 4 GiB"
      : `this machine has ${gib(limit)} of memory`;
  throw new Error(
    `${folder}: ${(needs.parameters / 1e9).toFixed(2)}B parameters (${gib(needs.weightsBytes)} as float32); ` +
      `${what} needs about ${gib(need)}, but ${where}. ` +
      (purpose === "train"
        ? "Use a smaller model, fewer or shorter sequences per mini-batch, or a backend with more memory."
        : "Use a smaller model, a smaller --batch-size, or a backend with more memory."),
  );
}
