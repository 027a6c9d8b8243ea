// A kernel thread of the wasm backend's pool (plain JS: it runs without the TypeScript loader).
// It instantiates the shared module on the shared memory, then loops: sleep on the generation
// counter of the control block, then take chunks of the posted kernel from a shared counter until
// none is left (so a thread that the OS runs late takes fewer), and count down.
// Control block (Int32 slots): 0 generation, 1 pending, 2 kernel index, 3 quit, 4 error, 5 ready,
// 6 next chunk, 7 chunk count, 8 index of the scratch-pointer argument (-1: none), 9 chunks run
// by workers (a statistic);
// kernel arguments are float64s from byte 64. The scratch argument is followed by its per-thread
// stride: each thread passes its own block (base + t * stride) and a stride of 0.
import { workerData } from "node:worker_threads";

const { module, memory, ctrl, t, names, maxArgs } = workerData;
const ex = new WebAssembly.Instance(module, { env: { memory } }).exports;
const fns = names.map((n) => ex[n]);
const i32 = new Int32Array(memory.buffer, ctrl, 16);
const a = new Float64Array(memory.buffer, ctrl + 64, maxArgs);
const x = new Float64Array(maxArgs);

Atomics.add(i32, 5, 1);
Atomics.notify(i32, 5);
let gen = 0;
for (;;) {
  // Bounded waits: a wake-up lost between threads (seen as rare hangs of long runs, cause not
  // found) costs at most one timeout instead of the whole process.
  Atomics.wait(i32, 0, gen, 20);
  if (Atomics.load(i32, 0) === gen) continue;
  gen = Atomics.load(i32, 0);
  if (Atomics.load(i32, 3) !== 0) break;
  try {
    const f = fns[i32[2]];
    const chunks = i32[7];
    const s = i32[8];
    x.set(a);
    if (s >= 0) {
      x[s] += t * x[s + 1];
      x[s + 1] = 0;
    }
    let c;
    while ((c = Atomics.add(i32, 6, 1)) < chunks) {
      Atomics.add(i32, 9, 1);
      f(
        c,
        chunks,
        x[0],
        x[1],
        x[2],
        x[3],
        x[4],
        x[5],
        x[6],
        x[7],
        x[8],
        x[9],
        x[10],
        x[11],
        x[12],
        x[13],
        x[14],
        x[15],
        x[16],
        x[17],
        x[18],
        x[19],
      );
    }
  } catch {
    Atomics.store(i32, 4, 1);
  }
  if (Atomics.sub(i32, 1, 1) === 1) Atomics.notify(i32, 1);
}
