// Debug mode RLIF_WASM_CHECK=1: guards the module's static data (the bytes below heapBase: exp4's
// constants, fdlibm's tables, decode.ts's WEIGHTS) against stray writes. It snapshots [0, heapBase)
// once after load; before every kernel call it checks the pointer arguments (0, or inside the
// heap), and after it that the static bytes are unchanged, else it throws an error that names the
// kernel and its arguments. A kernel that writes through a bad pointer is caught at that call; a
// JavaScript write into the memory is caught at the next kernel call (the message says so).
// Off (the default), nothing here runs: the glue's dispatch and the exports are the plain ones.

import { KERNELS, type KernelName, type KernelSpec } from "../../../kernels.ts";
import type { Kernels, WasmMemory } from "./loader.ts";

/** Whether the environment asks for the checks (read once per backend). */
export function wasmCheckEnabled(): boolean {
  return process.env.RLIF_WASM_CHECK === "1";
}

/** The wasm parameter slots (after (t, nt) when chunked) that hold byte offsets into the memory. */
export function pointerSlots(spec: KernelSpec): number[] {
  const slots: number[] = [];
  let pos = 0;
  for (const a of spec.args) {
    if (a.kind !== "i32" && a.kind !== "f32") slots.push(pos); // buffers, ints, const, block, scratch base
    pos += a.kind === "scratch" ? 2 : 1;
  }
  return slots;
}

/** The wasm parameter names of a kernel (after (t, nt)), for messages. */
function paramNames(spec: KernelSpec): string[] {
  return spec.args.flatMap((a) => (a.kind === "scratch" ? [a.name, `${a.name}Stride`] : [a.name]));
}

export class StaticGuard {
  private readonly snapshot: Uint8Array;
  /** What ran before the current call, for the message when JS code is the writer. */
  private previous = "load";

  constructor(
    private readonly memory: WasmMemory,
    /** First byte after the module's static data. */
    readonly heapBase: number,
  ) {
    this.snapshot = new Uint8Array(memory.buffer, 0, heapBase).slice();
  }

  /** Throws if a pointer argument of `kernel` is neither 0 nor inside [heapBase, memory size). */
  checkPointers(kernel: string, spec: KernelSpec, slots: readonly number[], args: ArrayLike<number>): void {
    const size = this.memory.buffer.byteLength;
    for (const s of slots) {
      const p = args[s];
      if (p === 0 || (Number.isInteger(p) && p >= this.heapBase && p < size)) continue;
      throw new Error(
        `RLIF_WASM_CHECK: ${describe(kernel, spec, args)}: argument ${paramNames(spec)[s]} = ${p} is not 0 ` +
          `and not inside the heap [${this.heapBase}, ${size})`,
      );
    }
  }

  /** Throws if the static bytes changed; `kernel` and `args` describe the call that just ran. */
  checkStatic(kernel: string, spec: KernelSpec | null, args: ArrayLike<number>): void {
    const now = new Uint8Array(this.memory.buffer, 0, this.heapBase);
    const was = this.snapshot;
    let first = -1;
    let last = -1;
    for (let i = 0; i < was.length; i++)
      if (now[i] !== was[i]) {
        if (first < 0) first = i;
        last = i;
      }
    const call = spec ? describe(kernel, spec, args) : `${kernel}(${Array.from(args).join(", ")})`;
    if (first < 0) {
      this.previous = call;
      return;
    }
    const hex = (b: Uint8Array) =>
      Array.from(b.subarray(first, Math.min(last + 1, first + 16)), (x) =>
        x.toString(16).padStart(2, "0"),
      ).join(" ");
    throw new Error(
      `RLIF_WASM_CHECK: the module's static data [0, ${this.heapBase}) changed at bytes ${first}..${last} ` +
        `(was ${hex(was)}, now ${hex(now)}), found after ${call}; it was intact after ${this.previous}: ` +
        "the write came from this call or from JavaScript writing into the memory since",
    );
  }

  /** The exports with the calls the glue does not dispatch (sumAll, decodeBegin, the scratch-size
   *  helpers) checked the same way. Chunked kernels are checked by the glue's dispatch. */
  wrapExports(k: Kernels): Kernels {
    const out: Record<string, unknown> = { ...k };
    for (const [name, f] of Object.entries(k)) {
      if (typeof f !== "function") continue;
      const spec = (KERNELS as Record<string, KernelSpec>)[name as KernelName];
      if (spec?.chunked) continue;
      const slots = spec ? pointerSlots(spec) : [];
      out[name] = (...a: number[]) => {
        if (spec) this.checkPointers(name, spec, slots, a);
        const r = (f as (...x: number[]) => number)(...a);
        this.checkStatic(name, spec ?? null, a);
        return r;
      };
    }
    return out as Kernels;
  }
}

/** `name(arg = value, ...)` of a call, with its wasm parameters after (t, nt). */
function describe(kernel: string, spec: KernelSpec, args: ArrayLike<number>): string {
  return `${kernel}(${paramNames(spec)
    .map((n, i) => `${n} = ${args[i]}`)
    .join(", ")})`;
}
