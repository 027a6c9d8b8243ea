// Worker-thread pool for the wasm kernels: every worker shares the one Memory and the compiled
// module, so a kernel call is only "write the arguments into a control block in shared memory,
// bump a generation counter, wake". The work is cut into chunks (a kernel's (t, nt) split with
// nt = chunks) that every thread, the caller included, takes from a shared counter: on a busy
// machine, a worker the OS runs late simply takes fewer chunks instead of stalling the caller.
// The caller then waits for the others with Atomics.wait (no message passing, no event-loop turn).
// Workers are unref'd: they never keep the process alive; dispose() stops them.
// The control block's layout is control-block.mjs, shared with worker.mjs.

import { Worker } from "node:worker_threads";
import {
  CHUNKS,
  callKernel,
  controlViews,
  ERROR,
  GEN,
  KERNEL,
  MAX_ARGS,
  NEXT,
  PENDING,
  QUIT,
  READY,
  SCRATCH_ARG,
  WORKER_CHUNKS,
} from "./control-block.mjs";
import type { WasmMemory, WasmModule } from "./loader.ts";

export { CTRL_BYTES } from "./control-block.mjs";

export class ThreadPool {
  private readonly workers: Worker[] = [];
  private readonly i32: Int32Array;
  private readonly args: Float64Array;
  private readonly local = new Float64Array(MAX_ARGS);
  private disposed = false;

  /** Starts `size - 1` workers (the caller is thread 0); throws if they do not come up.
   *  `names` are the kernels a call can post, by index. */
  constructor(
    private readonly names: readonly string[],
    module: WasmModule,
    memory: WasmMemory,
    ctrl: number,
    readonly size: number,
  ) {
    ({ i32: this.i32, args: this.args } = controlViews(memory.buffer, ctrl));
    this.i32.fill(0);
    for (let t = 1; t < size; t++) {
      const w = new Worker(new URL("./worker.mjs", import.meta.url), {
        workerData: { module, memory, ctrl, t, nt: size, names },
        // The worker is plain JS: do not make it load the TypeScript loader the parent may run under.
        execArgv: [],
        stdout: false,
        stderr: false,
      });
      // A worker that fails to load must not take the process down: the wait below times out
      // (its error event only arrives once this thread is free again) and the backend runs on one.
      w.on("error", () => {});
      w.unref();
      this.workers.push(w);
    }
    // Wait (bounded) until every worker has instantiated the module.
    const deadline = Date.now() + 10000;
    let ready: number;
    while ((ready = Atomics.load(this.i32, READY)) < size - 1) {
      if (Date.now() > deadline) {
        this.dispose();
        throw new Error(`wasm thread pool: only ${ready} of ${size - 1} workers started`);
      }
      Atomics.wait(this.i32, READY, ready, 100);
    }
  }

  /** Run kernel number `kernel` (f on this thread) in `chunks` pieces on all threads; args follow
   *  (t, nt) in its signature. args[scratchArg] is a per-thread scratch base and
   *  args[scratchArg + 1] its stride. */
  run(
    kernel: number,
    f: (...a: number[]) => void,
    args: ArrayLike<number>,
    chunks: number,
    scratchArg = -1,
  ): void {
    if (this.disposed) throw new Error("wasm thread pool used after dispose()");
    if (args.length > MAX_ARGS) throw new Error(`too many kernel arguments (${args.length})`);
    const i32 = this.i32;
    for (let i = 0; i < args.length; i++) this.args[i] = args[i];
    i32[KERNEL] = kernel;
    i32[CHUNKS] = chunks;
    i32[SCRATCH_ARG] = scratchArg;
    Atomics.store(i32, NEXT, 0);
    Atomics.store(i32, ERROR, 0);
    Atomics.store(i32, PENDING, this.size - 1);
    Atomics.add(i32, GEN, 1);
    Atomics.notify(i32, GEN);
    const a = this.local;
    for (let i = 0; i < args.length; i++) a[i] = args[i];
    if (scratchArg >= 0) a[scratchArg + 1] = 0; // thread 0's block is the base itself
    let c: number;
    let error: unknown = null;
    try {
      while ((c = Atomics.add(i32, NEXT, 1)) < chunks) callKernel(f, c, chunks, a);
    } catch (e) {
      error = e;
      Atomics.store(i32, NEXT, chunks); // stop the others taking more
    }
    let p: number;
    // Bounded waits, re-posting the wake-up each time: a lost wake-up (rare hangs of long runs were
    // seen, cause not found) then costs a few milliseconds instead of the whole process.
    while ((p = Atomics.load(i32, PENDING)) !== 0)
      if (Atomics.wait(i32, PENDING, p, 20) === "timed-out") Atomics.notify(i32, GEN);
    if (error) throw error;
    if (Atomics.load(i32, ERROR) !== 0)
      throw new Error(`wasm kernel ${this.names[kernel]} failed on a worker thread`);
  }

  /** Chunks run by the workers so far (the rest ran on the calling thread). */
  get workerChunks(): number {
    return Atomics.load(this.i32, WORKER_CHUNKS);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    Atomics.store(this.i32, QUIT, 1);
    Atomics.add(this.i32, GEN, 1);
    Atomics.notify(this.i32, GEN);
    for (const w of this.workers) void w.terminate();
  }
}
