// The thread pool's control block in shared memory: its layout, defined once for both sides
// (pool.ts on the calling thread, worker.mjs in each worker thread; plain JS so the worker can
// import it without the TypeScript loader). Int32 slots first, then the kernel arguments as
// float64s from byte ARGS_OFFSET.

/** Generation counter: bumped to post a call (or quit); workers sleep on it. */
export const GEN = 0;
/** Workers still running the posted call; the caller sleeps on it. */
export const PENDING = 1;
/** Index of the posted kernel in the pool's kernel list. */
export const KERNEL = 2;
/** Nonzero: workers exit. */
export const QUIT = 3;
/** Nonzero: a worker's kernel threw. */
export const ERROR = 4;
/** Workers that have instantiated the module. */
export const READY = 5;
/** Next chunk to take (every thread takes chunks from this counter). */
export const NEXT = 6;
/** Chunks the call is cut into. */
export const CHUNKS = 7;
/** Index of the scratch-base argument (followed by its per-thread stride), or -1. */
export const SCRATCH_ARG = 8;
/** Chunks run by workers so far (a statistic). */
export const WORKER_CHUNKS = 9;
/** Int32 slots reserved (ARGS_OFFSET bytes). */
export const INT_SLOTS = 16;
export const ARGS_OFFSET = 4 * INT_SLOTS;
/** Kernel arguments after (t, nt) that a call can pass. */
export const MAX_ARGS = 20;
export const CTRL_BYTES = ARGS_OFFSET + 8 * MAX_ARGS;

/** The control block at byte `ctrl` of `buffer`: its Int32 slots and its argument slots. */
export function controlViews(buffer, ctrl) {
  return {
    i32: new Int32Array(buffer, ctrl, INT_SLOTS),
    args: new Float64Array(buffer, ctrl + ARGS_OFFSET, MAX_ARGS),
  };
}

/** Call a chunked kernel as chunk t of nt with MAX_ARGS arguments after (t, nt): a fixed arity
 *  instead of a spread (arguments past the kernel's own are ignored by wasm). */
export function callKernel(f, t, nt, a) {
  f(
    t,
    nt,
    a[0],
    a[1],
    a[2],
    a[3],
    a[4],
    a[5],
    a[6],
    a[7],
    a[8],
    a[9],
    a[10],
    a[11],
    a[12],
    a[13],
    a[14],
    a[15],
    a[16],
    a[17],
    a[18],
    a[19],
  );
}
