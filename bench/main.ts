// Side-by-side benchmark (issue 2, section 5): rlif's engine vs the same model in TF.js (wasm
// backend) and in PyTorch CPU, on one machine in one run. Every implementation and thread count
// runs in its own child process (bench/peers/*), which isolates them and gives each its own
// peak RSS; with --rounds R the whole set runs R times interleaved, and each figure is the median
// of all repetitions of all rounds (warm-up runs excluded).
//
// Usage: npm run bench -- [--quick] [--json FILE] [--rounds R] [--reps N] [--threads 1,2]
//                         [--only rlif,tfjs_wasm,pytorch_cpu,pytorch_cpu_openblas] [--no-rl]
//                         [--timeout SECONDS per peer process]
// PyTorch runs with /usr/bin/python3 (Debian python3-torch; RLIF_BENCH_PYTHON overrides);
// skipped with a note where it has no torch.
// "pytorch_cpu_openblas" is the same script with OpenBLAS in front of Debian's reference BLAS
// (LD_LIBRARY_PATH only, nothing installed): set RLIF_BENCH_OPENBLAS to the folder holding its
// libblas.so.3, see bench/README.md.

import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg, totalmem } from "node:os";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { MODEL_CONFIG, type PeerResult } from "./peers/common.ts";

const { values: opts } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    json: { type: "string" },
    rounds: { type: "string" },
    reps: { type: "string" },
    threads: { type: "string", default: "1,2" },
    only: { type: "string" },
    "no-rl": { type: "boolean", default: false },
    timeout: { type: "string" },
    help: { type: "boolean", default: false },
  },
  strict: true,
});
if (opts.help) {
  console.log(
    readFileSync(fileURLToPath(import.meta.url), "utf8")
      .split("\n")
      .slice(0, 14)
      .join("\n"),
  );
  process.exit(0);
}

const quick = opts.quick;
// The RL-step-shaped batch: 64 sequences x 128 tokens; sampling 64 prompts x (16 + 112) tokens.
// --quick keeps the shapes per sequence and cuts the number of sequences.
const workload = {
  batch: quick ? 8 : 64,
  seq: 128,
  prompts: quick ? 16 : 64,
  promptLen: 16,
  newTokens: 112,
  reps: Number(opts.reps ?? (quick ? 3 : 3)),
  warmup: 1,
  matmul: [8192, 256, 768] as [number, number, number],
  rlPrompts: quick ? 2 : 8,
  rlGroup: 8,
};
const rounds = Number(opts.rounds ?? (quick ? 1 : 2));
const threadCounts = opts.threads.split(",").map(Number);
if (threadCounts.some((t) => !Number.isInteger(t) || t < 1))
  throw new Error(`--threads: bad list ${opts.threads}`);
const timeoutS = Number(opts.timeout ?? (quick ? 300 : 900));

type ImplName = "rlif" | "tfjs_wasm" | "pytorch_cpu" | "pytorch_cpu_openblas";
const IMPLS: ImplName[] = ["rlif", "tfjs_wasm", "pytorch_cpu", "pytorch_cpu_openblas"];
const only = new Set((opts.only ?? IMPLS.join(",")).split(","));
for (const o of only)
  if (!IMPLS.includes(o as ImplName)) throw new Error(`--only: unknown implementation ${o}`);

const root = fileURLToPath(new URL("..", import.meta.url));
/** Debian's python3-torch is in the system python, not necessarily the default `python3`. */
const PYTHON = process.env.RLIF_BENCH_PYTHON ?? "/usr/bin/python3";

function torchVersion(): string | null {
  if (!existsSync(PYTHON)) return null;
  const r = spawnSync(PYTHON, ["-c", "import torch; print(torch.__version__)"], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : null;
}

/** Folder whose libblas.so.3 is OpenBLAS, for the second PyTorch variant; null when none. */
function openblasDir(): string | null {
  const candidates = [
    process.env.RLIF_BENCH_OPENBLAS,
    "/usr/lib/x86_64-linux-gnu/openblas-pthread",
    "/tmp/openblas/x/usr/lib/x86_64-linux-gnu/openblas-pthread",
  ];
  for (const c of candidates) if (c && existsSync(`${c}/libblas.so.3`)) return c;
  return null;
}

function systemBlas(): string {
  try {
    return realpathSync("/usr/lib/x86_64-linux-gnu/libblas.so.3");
  } catch {
    return "unknown";
  }
}

function cpuModel(): string {
  try {
    const m = readFileSync("/proc/cpuinfo", "utf8").match(/^model name\s*:\s*(.*)$/m);
    return m ? m[1].trim() : "unknown";
  } catch {
    return "unknown";
  }
}

interface Run {
  impl: ImplName;
  threads: number;
  result?: PeerResult;
  error?: string;
  load_before: number;
  load_after: number;
  wall_s: number;
}

function peerArgs(threads: number, skip: string[]): string[] {
  const w = workload;
  return [
    `--threads=${threads}`,
    `--batch=${w.batch}`,
    `--seq=${w.seq}`,
    `--prompts=${w.prompts}`,
    `--prompt-len=${w.promptLen}`,
    `--new-tokens=${w.newTokens}`,
    `--reps=${w.reps}`,
    `--warmup=${w.warmup}`,
    `--matmul=${w.matmul.join(",")}`,
    `--skip=${skip.join(",")}`,
  ];
}

/** Run one peer process; its last "RESULT {json}" line is the result. A peer that outlives the
 *  timeout is killed and reported (the wasm thread pool has had an intermittent hang). */
function runPeer(impl: ImplName, threads: number, blasDir: string | null): Promise<Run> {
  let cmd: string;
  let args: string[];
  const env = { ...process.env };
  if (impl === "rlif" || impl === "tfjs_wasm") {
    cmd = process.execPath;
    const skip = impl === "rlif" && !opts["no-rl"] ? [] : ["rl"];
    args = [
      "--import",
      "tsx",
      `bench/peers/${impl === "rlif" ? "rlif" : "tfjs"}.ts`,
      ...peerArgs(threads, skip),
      `--rl-prompts=${workload.rlPrompts}`,
      `--rl-group=${workload.rlGroup}`,
    ];
  } else {
    cmd = PYTHON;
    args = [
      "bench/peers/torch_peer.py",
      `--config=${JSON.stringify(MODEL_CONFIG)}`,
      ...peerArgs(threads, []),
    ];
    env.OMP_NUM_THREADS = String(threads);
    // Spinning OpenMP threads collapse when the cores are shared with other processes (measured
    // here: PyTorch's 2-thread step 2-3x slower with ACTIVE than with PASSIVE under load).
    env.OMP_WAIT_POLICY ??= "PASSIVE";
    if (impl === "pytorch_cpu_openblas" && blasDir) {
      env.LD_LIBRARY_PATH = [blasDir, env.LD_LIBRARY_PATH].filter(Boolean).join(":");
      env.OPENBLAS_NUM_THREADS = String(threads);
    }
  }
  const load_before = loadavg()[0];
  const t0 = performance.now();
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (b) => {
      out += b;
    });
    child.stderr.on("data", (b) => {
      err += b;
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutS * 1000);
    child.on("close", (code) => {
      clearTimeout(timer);
      const run: Run = {
        impl,
        threads,
        load_before,
        load_after: loadavg()[0],
        wall_s: (performance.now() - t0) / 1000,
      };
      const line = out
        .split("\n")
        .reverse()
        .find((l) => l.startsWith("RESULT "));
      if (timedOut) run.error = `killed after ${timeoutS} s (hang?)`;
      else if (line) run.result = JSON.parse(line.slice(7)) as PeerResult;
      else run.error = `exit ${code}: ${err.trim().split("\n").slice(-3).join(" | ")}`;
      resolve(run);
    });
  });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n === 0 ? Number.NaN : n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
};

interface Figures {
  threads: number;
  train_tokens_per_s: number | null;
  sample_tokens_per_s: number | null;
  matmul_gflops: number | null;
  peak_rss_mb: number | null;
  rl_step_tokens_per_s?: number | null;
  /** Tokens per second of the process's CPU time (all its threads): the work, apart from waiting
   *  for a core on a shared machine. On 1 thread and an idle machine it equals the rate above. */
  train_tokens_per_cpu_s?: number | null;
  sample_tokens_per_cpu_s?: number | null;
  /** Median and spread (min..max) of the step times in ms, over all repetitions of all rounds. */
  train_ms?: [number, number, number];
  sample_ms?: [number, number, number];
  first_loss?: number;
  params?: number;
  backend?: string;
  note?: string;
  error?: string;
}

function summarise(runs: Run[]): Figures {
  const ok = runs.filter((r) => r.result).map((r) => r.result!);
  const errors = runs.filter((r) => r.error).map((r) => r.error!);
  const pool = (k: "train_ms" | "sample_ms" | "matmul_ms" | "rl_ms" | "train_cpu_ms" | "sample_cpu_ms") =>
    ok.flatMap((r) => r[k] ?? []);
  const rate = (ms: number[], per: number | undefined) =>
    ms.length && per ? (per / median(ms)) * 1000 : null;
  const spread = (ms: number[]): [number, number, number] | undefined =>
    ms.length ? [median(ms), Math.min(...ms), Math.max(...ms)] : undefined;
  const f: Figures = {
    threads: runs[0].threads,
    train_tokens_per_s: rate(pool("train_ms"), ok[0]?.train_tokens),
    sample_tokens_per_s: rate(pool("sample_ms"), ok[0]?.sample_tokens),
    matmul_gflops: (() => {
      const r = rate(pool("matmul_ms"), ok[0]?.matmul_flops);
      return r === null ? null : r / 1e9;
    })(),
    peak_rss_mb: ok.length ? median(ok.map((r) => r.peak_rss_mb)) : null,
    train_tokens_per_cpu_s: rate(pool("train_cpu_ms"), ok[0]?.train_tokens),
    sample_tokens_per_cpu_s: rate(pool("sample_cpu_ms"), ok[0]?.sample_tokens),
    train_ms: spread(pool("train_ms")),
    sample_ms: spread(pool("sample_ms")),
    first_loss: ok[0]?.first_loss,
    params: ok[0]?.params,
    backend: ok[0]?.backend,
  };
  if (ok.some((r) => r.rl_ms)) f.rl_step_tokens_per_s = rate(pool("rl_ms"), ok[0]?.rl_tokens);
  const notes = [...new Set(ok.map((r) => r.note).filter(Boolean))];
  if (notes.length) f.note = notes.join("; ");
  if (errors.length) f.error = `${errors.length} of ${runs.length} runs failed: ${errors.join("; ")}`;
  return f;
}

// ------------------------------------------------------------------------------------- main
const torch = torchVersion();
const blasDir = openblasDir();
const skipped: Record<string, string> = {};
if (!torch) {
  skipped.pytorch_cpu =
    skipped.pytorch_cpu_openblas = `${PYTHON} has no torch (apt-get install python3-torch)`;
} else if (!blasDir) {
  skipped.pytorch_cpu_openblas =
    "no OpenBLAS libblas.so.3 found (set RLIF_BENCH_OPENBLAS, see bench/README.md)";
}
const machine = {
  cpu: cpuModel(),
  cores: availableParallelism(),
  memory_gb: Math.round(totalmem() / 2 ** 30),
  node: process.version,
  torch,
  system_blas: systemBlas(),
  openblas_dir: blasDir,
  date: new Date().toISOString(),
  load_average_at_start: loadavg().map((x) => Math.round(x * 100) / 100),
};
const nParams = 2_494_720;
console.log(`rlif side-by-side benchmark${quick ? " (--quick)" : ""}, ${machine.date}`);
console.log(
  `machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memory_gb} GB, node ${machine.node}, ` +
    `torch ${torch ?? "-"}; load average ${machine.load_average_at_start.join(" ")}`,
);
console.log(
  `model: Qwen2-shaped, vocab ${MODEL_CONFIG.vocab_size}, hidden ${MODEL_CONFIG.hidden_size}, ` +
    `${MODEL_CONFIG.num_hidden_layers} layers, ${MODEL_CONFIG.num_attention_heads} heads / ` +
    `${MODEL_CONFIG.num_key_value_heads} kv heads, MLP ${MODEL_CONFIG.intermediate_size}, tied, q/k/v bias ` +
    `(${(nParams / 1e6).toFixed(2)}M params)`,
);
console.log(
  `train: ${workload.batch} x ${workload.seq} tokens (forward + backward + AdamW); sample: ${workload.prompts} ` +
    `prompts x ${workload.promptLen} + ${workload.newTokens} new tokens, temperature 1, KV cache; ` +
    `matmul [${workload.matmul[0]}x${workload.matmul[1]}]x[${workload.matmul[1]}x${workload.matmul[2]}]; ` +
    `${workload.reps} reps after ${workload.warmup} warm-up, ${rounds} round(s)`,
);
for (const [k, v] of Object.entries(skipped)) if (only.has(k)) console.log(`skipped ${k}: ${v}`);

const plan: [ImplName, number][] = [];
for (const impl of IMPLS) {
  if (!only.has(impl) || skipped[impl]) continue;
  // TF.js's threaded wasm cannot start in Node: one process, one thread.
  for (const t of impl === "tfjs_wasm" ? [1] : threadCounts) plan.push([impl, t]);
}
const runs: Run[] = [];
// Odd rounds run the plan backwards, so that a load that drifts during the run hits all alike.
for (let r = 0; r < rounds; r++)
  for (const [impl, t] of r % 2 ? [...plan].reverse() : plan) {
    process.stdout.write(`  round ${r + 1}/${rounds}: ${impl} ${t} thread(s) ... `);
    const run = await runPeer(impl, t, blasDir);
    runs.push(run);
    const res = run.result;
    const tr = res?.train_ms ? median(res.train_ms).toFixed(0) : "-";
    const sa = res?.sample_ms ? median(res.sample_ms).toFixed(0) : "-";
    console.log(
      run.error
        ? `FAILED (${run.error})`
        : `train ${tr} ms, sample ${sa} ms (${run.wall_s.toFixed(0)} s, load ${run.load_before.toFixed(1)})`,
    );
  }

type ImplReport = Figures & { by_threads: Record<string, Figures> };
const report: Record<string, ImplReport | { skipped: string }> = {};
for (const impl of IMPLS) {
  if (!only.has(impl)) continue;
  if (skipped[impl]) {
    report[impl] = { skipped: skipped[impl] };
    continue;
  }
  const byThreads: Record<string, Figures> = {};
  for (const t of new Set(plan.filter(([i]) => i === impl).map(([, t]) => t)))
    byThreads[t] = summarise(runs.filter((r) => r.impl === impl && r.threads === t));
  // Headline figures: the thread count with the best training throughput.
  const best = Object.values(byThreads).reduce((a, b) =>
    (b.train_tokens_per_s ?? 0) > (a.train_tokens_per_s ?? 0) ? b : a,
  );
  report[impl] = { ...best, by_threads: byThreads };
}

// ------------------------------------------------------------------------------------ table
const fmt = (x: number | null | undefined, digits = 0) =>
  x === null || x === undefined ? "-" : x.toFixed(digits);
const rows: string[][] = [
  [
    "implementation",
    "threads",
    "train tok/s",
    "sample tok/s",
    "matmul GFLOP/s",
    "peak RSS MB",
    "RL step tok/s",
    "train tok/CPU-s",
    "sample tok/CPU-s",
  ],
];
for (const [impl, rep] of Object.entries(report)) {
  if ("skipped" in rep) continue;
  for (const [t, f] of Object.entries(rep.by_threads))
    rows.push([
      impl,
      t,
      fmt(f.train_tokens_per_s),
      fmt(f.sample_tokens_per_s),
      fmt(f.matmul_gflops, 1),
      fmt(f.peak_rss_mb),
      f.rl_step_tokens_per_s === undefined ? "" : fmt(f.rl_step_tokens_per_s),
      fmt(f.train_tokens_per_cpu_s),
      fmt(f.sample_tokens_per_cpu_s),
    ]);
}
const widths = rows[0].map((_, j) => Math.max(...rows.map((r) => r[j].length)));
console.log();
for (const [i, r] of rows.entries()) {
  console.log(r.map((c, j) => (j === 0 ? c.padEnd(widths[j]) : c.padStart(widths[j]))).join("  "));
  if (i === 0) console.log(widths.map((w) => "-".repeat(w)).join("  "));
}
for (const [impl, rep] of Object.entries(report)) {
  if ("skipped" in rep) continue;
  for (const [t, f] of Object.entries(rep.by_threads)) {
    if (f.error) console.log(`  ${impl} x${t}: ${f.error}`);
    if (f.note) console.log(`  ${impl} x${t}: ${f.note}`);
  }
}

// Ratios rlif / peer: against TF.js (1 thread: all it can use) with rlif's best and with rlif on
// 1 thread; against PyTorch at the same thread count.
const ratios: Record<string, Record<string, number | null>> = {};
const rl = report.rlif;
const ratio = (a: number | null | undefined, b: number | null | undefined) =>
  a && b ? Math.round((a / b) * 100) / 100 : null;
const ratioOf = (a: Figures, b: Figures) => ({
  train: ratio(a.train_tokens_per_s, b.train_tokens_per_s),
  sample: ratio(a.sample_tokens_per_s, b.sample_tokens_per_s),
  matmul: ratio(a.matmul_gflops, b.matmul_gflops),
  train_per_cpu_s: ratio(a.train_tokens_per_cpu_s, b.train_tokens_per_cpu_s),
  sample_per_cpu_s: ratio(a.sample_tokens_per_cpu_s, b.sample_tokens_per_cpu_s),
});
if (rl && !("skipped" in rl)) {
  for (const [impl, rep] of Object.entries(report)) {
    if (impl === "rlif" || "skipped" in rep) continue;
    if (impl === "tfjs_wasm") {
      ratios["rlif(best) / tfjs_wasm"] = ratioOf(rl, rep);
      if (rl.by_threads[1]) ratios["rlif x1 / tfjs_wasm"] = ratioOf(rl.by_threads[1], rep);
    } else
      for (const t of Object.keys(rep.by_threads))
        if (rl.by_threads[t])
          ratios[`rlif x${t} / ${impl} x${t}`] = ratioOf(rl.by_threads[t], rep.by_threads[t]);
  }
  if (rl.by_threads[1] && rl.by_threads[2])
    ratios["rlif x2 / rlif x1"] = ratioOf(rl.by_threads[2], rl.by_threads[1]);
}
if (Object.keys(ratios).length) {
  console.log(`\n${"ratios rlif / peer".padEnd(38)} train  sample  matmul  train/CPU-s  sample/CPU-s`);
  for (const [k, v] of Object.entries(ratios))
    console.log(
      `  ${k.padEnd(36)} ${fmt(v.train, 2).padStart(6)} ${fmt(v.sample, 2).padStart(7)} ${fmt(v.matmul, 2).padStart(7)}` +
        ` ${fmt(v.train_per_cpu_s, 2).padStart(12)} ${fmt(v.sample_per_cpu_s, 2).padStart(13)}`,
    );
}
const loads = runs.map((r) => r.load_before);
if (loads.length)
  console.log(
    `\nload average (1 min) before each run: ${Math.min(...loads).toFixed(1)}..${Math.max(...loads).toFixed(1)} on ${machine.cores} cores`,
  );

if (opts.json) {
  const out = {
    machine,
    model: { ...MODEL_CONFIG, model_type: "qwen2", attention_bias: true, parameters: nParams },
    workload: { ...workload, rounds, quick },
    ...report,
    ratios,
    runs: runs.map(({ result, ...r }) => ({ ...r, result })),
  };
  writeFileSync(opts.json, `${JSON.stringify(out, null, 2)}\n`);
  console.log(`wrote ${opts.json}`);
}
