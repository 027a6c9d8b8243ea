// Types of control-block.mjs (the layout shared by pool.ts and worker.mjs).
export declare const GEN: number;
export declare const PENDING: number;
export declare const KERNEL: number;
export declare const QUIT: number;
export declare const ERROR: number;
export declare const READY: number;
export declare const NEXT: number;
export declare const CHUNKS: number;
export declare const SCRATCH_ARG: number;
export declare const WORKER_CHUNKS: number;
export declare const INT_SLOTS: number;
export declare const ARGS_OFFSET: number;
export declare const MAX_ARGS: number;
export declare const CTRL_BYTES: number;
export declare function controlViews(
  buffer: ArrayBufferLike,
  ctrl: number,
): { i32: Int32Array; args: Float64Array };
export declare function callKernel(
  f: (...a: number[]) => unknown,
  t: number,
  nt: number,
  a: ArrayLike<number>,
): void;
