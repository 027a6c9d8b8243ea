// A kernel thread of the wasm backend's pool (plain JS: it runs without the TypeScript loader).
// It instantiates the shared module on the shared memory, then loops: sleep on the generation
// counter of the control block, then take chunks of the posted kernel from a shared counter until
// none is left (so a thread that the OS runs late takes fewer), and count down.
// The control block's layout is control-block.mjs, shared with pool.ts. The scratch argument is
// followed by its per-thread stride: each thread passes its own block (base + t * stride) and a
// stride of 0.
import { workerData } from "node:worker_threads";
import * as cb from "./control-block.mjs";

const { module, memory, ctrl, t, names } = workerData;
const ex = new WebAssembly.Instance(module, { env: { memory } }).exports;
const fns = names.map((n) => ex[n]);
const { i32, args: a } = cb.controlViews(memory.buffer, ctrl);
const x = new Float64Array(cb.MAX_ARGS);

Atomics.add(i32, cb.READY, 1);
Atomics.notify(i32, cb.READY);
let gen = 0;
for (;;) {
  // Bounded waits: a wake-up lost between threads (seen as rare hangs of long runs, cause not
  // found) costs at most one timeout instead of the whole process.
  Atomics.wait(i32, cb.GEN, gen, 20);
  if (Atomics.load(i32, cb.GEN) === gen) continue;
  gen = Atomics.load(i32, cb.GEN);
  if (Atomics.load(i32, cb.QUIT) !== 0) break;
  try {
    const f = fns[i32[cb.KERNEL]];
    const chunks = i32[cb.CHUNKS];
    const s = i32[cb.SCRATCH_ARG];
    x.set(a);
    if (s >= 0) {
      x[s] += t * x[s + 1];
      x[s + 1] = 0;
    }
    let c;
    while ((c = Atomics.add(i32, cb.NEXT, 1)) < chunks) {
      Atomics.add(i32, cb.WORKER_CHUNKS, 1);
      cb.callKernel(f, c, chunks, x);
    }
  } catch {
    Atomics.store(i32, cb.ERROR, 1);
  }
  if (Atomics.sub(i32, cb.PENDING, 1) === 1) Atomics.notify(i32, cb.PENDING);
}
