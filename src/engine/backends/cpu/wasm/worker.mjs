// A kernel thread of the wasm backend's pool (plain JS: it runs without the TypeScript loader).
// It instantiates the shared module on the shared memory, then loops: sleep on the generation
// counter of the control block, run its share (thread index t) of the posted kernel, count down.
// Control block (Int32 slots): 0 generation, 1 pending, 2 kernel index, 3 quit, 4 error, 5 ready;
// kernel arguments are float64s from byte 64.
import { workerData } from "node:worker_threads";

const { module, memory, ctrl, t, nt, names, maxArgs } = workerData;
const ex = new WebAssembly.Instance(module, { env: { memory } }).exports;
const fns = names.map((n) => ex[n]);
const i32 = new Int32Array(memory.buffer, ctrl, 16);
const a = new Float64Array(memory.buffer, ctrl + 64, maxArgs);

Atomics.add(i32, 5, 1);
Atomics.notify(i32, 5);
let gen = 0;
for (;;) {
  Atomics.wait(i32, 0, gen);
  gen = Atomics.load(i32, 0);
  if (Atomics.load(i32, 3) !== 0) break;
  try {
    const f = fns[i32[2]];
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
  } catch {
    Atomics.store(i32, 4, 1);
  }
  if (Atomics.sub(i32, 1, 1) === 1) Atomics.notify(i32, 1);
}
