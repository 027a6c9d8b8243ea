// What the benchmark's peers share: the workload (model config, batch shapes, token ids), the
// command-line protocol between bench/main.ts and a peer process, and the timing helper.
// Each peer runs in its own process and prints one line "RESULT {json}" (see PeerResult).

import { parseArgs } from "node:util";

/** The benchmark model: Qwen2-shaped (q/k/v biases), tied embeddings, 2,494,720 parameters. */
export const MODEL_CONFIG = {
  vocab_size: 512,
  hidden_size: 256,
  num_hidden_layers: 4,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  intermediate_size: 512,
  max_position_embeddings: 256,
  rms_norm_eps: 1e-6,
  rope_theta: 10000,
  tie_word_embeddings: true,
  initializer_range: 0.02,
} as const;

export interface Workload {
  threads: number;
  /** Training batch: sequences x tokens. */
  batch: number;
  seq: number;
  /** Sampling: prompts of promptLen tokens, continued by newTokens tokens at temperature 1. */
  prompts: number;
  promptLen: number;
  newTokens: number;
  reps: number;
  warmup: number;
  /** Matmul shape M,K,N: [M,K] x [K,N]. */
  matmul: [number, number, number];
  skip: Set<string>;
  /** RL step (rollout + policy-gradient update): groups x samples per prompt; rlif only. */
  rlPrompts: number;
  rlGroup: number;
}

/** Per-repetition wall times in ms and what each repetition processed. */
export interface PeerResult {
  impl: string;
  threads: number;
  params: number;
  backend?: string;
  train_ms?: number[];
  train_cpu_ms?: number[];
  train_tokens?: number;
  first_loss?: number;
  sample_ms?: number[];
  sample_cpu_ms?: number[];
  sample_tokens?: number;
  matmul_ms?: number[];
  matmul_flops?: number;
  rl_ms?: number[];
  rl_tokens?: number;
  peak_rss_mb: number;
  note?: string;
}

export function parseWorkload(argv = process.argv.slice(2)): Workload {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: "string" },
      threads: { type: "string", default: "1" },
      batch: { type: "string", default: "64" },
      seq: { type: "string", default: "128" },
      prompts: { type: "string", default: "64" },
      "prompt-len": { type: "string", default: "16" },
      "new-tokens": { type: "string", default: "112" },
      reps: { type: "string", default: "3" },
      warmup: { type: "string", default: "1" },
      matmul: { type: "string", default: "8192,256,768" },
      skip: { type: "string", default: "" },
      "rl-prompts": { type: "string", default: "8" },
      "rl-group": { type: "string", default: "8" },
    },
    strict: true,
  });
  const int = (name: string, v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0)
      throw new Error(`--${name}: expected a non-negative integer, got ${v}`);
    return n;
  };
  const mm = values.matmul.split(",").map((s) => int("matmul", s));
  if (mm.length !== 3) throw new Error(`--matmul: expected M,K,N, got ${values.matmul}`);
  return {
    threads: int("threads", values.threads),
    batch: int("batch", values.batch),
    seq: int("seq", values.seq),
    prompts: int("prompts", values.prompts),
    promptLen: int("prompt-len", values["prompt-len"]),
    newTokens: int("new-tokens", values["new-tokens"]),
    reps: int("reps", values.reps),
    warmup: int("warmup", values.warmup),
    matmul: mm as [number, number, number],
    skip: new Set(values.skip.split(",").filter(Boolean)),
    rlPrompts: int("rl-prompts", values["rl-prompts"]),
    rlGroup: int("rl-group", values["rl-group"]),
  };
}

/** The same pseudo-random token ids in every peer (torch_peer.py has the same generator). */
export function lcgIds(n: number, seed: number, V: number): Int32Array {
  const out = new Int32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) & 0x7fffffff; // exact: the low 31 bits
    out[i] = s % V;
  }
  return out;
}

/** Wall times (ms) of `reps` runs after `warmup` runs; the process's CPU time (all threads, ms) of
 *  each run is pushed to `cpu` when given: on a shared machine it shows the work apart from the wait. */
export async function timed(
  fn: () => unknown,
  reps: number,
  warmup: number,
  cpu?: number[],
): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await fn();
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await fn();
    ts.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu?.push((c.user + c.system) / 1000);
  }
  return ts;
}

export function peakRssMb(): number {
  return process.resourceUsage().maxRSS / 1024;
}

export function printResult(r: PeerResult): void {
  process.stdout.write(`RESULT ${JSON.stringify(r)}\n`);
}
