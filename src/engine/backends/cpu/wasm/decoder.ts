// The host side of fused decoding (assembly/decode.ts): lays out the plan (dimensions and weight
// offsets, and the weights packed once for the matmul) and the state (per-sequence arrays) in the
// shared memory, then runs the sampling loop
// as one serial decodeBegin and one pool-split decodeStep per generated token. A step allocates
// nothing: the blocks and the threads' scratch are sized once, before the first step.
//
// The word numbers below mirror the constants at the top of decode.ts.

import type { DecodeRequest, DecodeResult, DecoderPlan, RopeScaling } from "../../../backend.ts";
import type { CpuStorage } from "../backend.ts";
import type { WasmHeap } from "./allocator.ts";
import type { KernelInvokers } from "./calls.ts";
import type { Kernels } from "./loader.ts";
import type { WasmStorage } from "./storage.ts";

const PLAN_WORDS = 16;
const LAYER_WORDS = 24;
const P = { L: 0, dim: 1, Hq: 2, Hkv: 3, D: 4, ff: 5, V: 6, capacity: 7, eps: 8, scale: 9 } as const;
const P_PTR = { embed: 10, norm: 11, head: 12, cos: 13, sin: 14, headPacked: 15 } as const;
const LAYER = [
  "inputNorm",
  "q",
  "qBias",
  "k",
  "kBias",
  "v",
  "vBias",
  "o",
  "postNorm",
  "gate",
  "up",
  "down",
] as const;
const L_KCACHE = 12;
const L_VCACHE = 13;
/** The packed copies of q, k, v, o, gate, up, down (decodePack), from this word on. */
const L_PACKED = 16;

const STATE_WORDS = 24;
const S = {
  B: 0,
  maxNew: 1,
  rng: 2,
  greedy: 3,
  stopN: 5,
  active: 6,
  tokenIn: 7,
  pos: 8,
  len: 9,
  limit: 10,
  done: 11,
  u: 12,
  stop: 13,
  tokens: 14,
  logp: 15,
  entropy: 16,
  sc: 17,
  logits: 18,
  temperature: 20,
  logV: 22,
} as const;

/** What the decoder needs of its backend. */
export interface DecoderHost {
  exports: Kernels;
  heap: WasmHeap;
  run: KernelInvokers;
  threads: number;
  mine(s: unknown): s is WasmStorage;
  /** Byte offsets of the rotary cos/sin tables [position][D/2] covering positions up to maxPos. */
  ropeTable(D: number, theta: number, maxPos: number, scaling?: RopeScaling): { cos: number; sin: number };
  /** Pool chunks for a call: `chunks` when it is worth splitting, else serial. */
  split(parallel: boolean, chunks: number): number;
}

/** Why the fused decoder does not take a plan (null: it does). */
export function unsupported(plan: DecoderPlan<CpuStorage>, host: DecoderHost): string | null {
  const { Hq, Hkv, D } = plan.dims;
  if (D % 8 !== 0 || Hq % Hkv !== 0) return "head size not a multiple of 8, or Hq not a multiple of Hkv";
  const all = [plan.embed, plan.norm, plan.head, ...plan.cacheK, ...plan.cacheV];
  for (const l of plan.layers) for (const name of LAYER) if (l[name] !== null) all.push(l[name]);
  if (!all.every((s) => host.mine(s))) return "a storage outside this backend's memory";
  return null;
}

/** Runs the whole sampling loop of `request` on the fused kernels. */
export function decode(
  host: DecoderHost,
  plan: DecoderPlan<CpuStorage>,
  request: DecodeRequest<CpuStorage>,
): DecodeResult {
  const { B, capacity } = plan;
  const { V } = plan.dims;
  const maxNew = Math.max(0, request.maxNewTokens);
  const { heap } = host;
  // The state block: header, then the arrays (8-byte aligned: u is float64).
  const arrays: [keyof typeof S, number][] = [
    ["u", 2 * B],
    ["active", B],
    ["tokenIn", B],
    ["pos", B],
    ["len", B],
    ["limit", B],
    ["done", B],
    ["stop", Math.max(1, request.stopTokens.length)],
    ["tokens", B * maxNew],
    ["logp", B * maxNew],
    ["entropy", B * maxNew],
    ["sc", B * maxNew],
    ["logits", B * V],
  ];
  let words = STATE_WORDS;
  const at: Partial<Record<keyof typeof S, number>> = {};
  for (const [name, n] of arrays) {
    at[name] = words;
    words += n + (n & 1);
  }
  const planWords = PLAN_WORDS + LAYER_WORDS * plan.layers.length;
  const packed = packedSizes(host, plan);
  const stateBlock = heap.alloc(words * 4);
  const planBlock = heap.alloc(planWords * 4);
  const packBlock = heap.alloc(4 * packed.reduce((a, b) => a + b, 0));
  try {
    const rope = host.ropeTable(plan.dims.D, plan.theta, capacity - 1, plan.scaling);
    writePlan(host, plan, planBlock.ptr, rope, packBlock.ptr, packed);
    host.run.decodePack(host.split(host.threads > 1, packed.length), planBlock.ptr);
    const st = stateBlock.ptr;
    const i32 = new Int32Array(heap.buffer);
    const f32 = new Float32Array(heap.buffer);
    const f64 = new Float64Array(heap.buffer);
    // Offsets reach 4 GiB: `>>>`, never `>>`, turns them into indices.
    const w = st >>> 2;
    i32.fill(0, w, w + words);
    for (const [name] of arrays) i32[w + S[name]] = st + 4 * (at[name] as number);
    const arr = (name: keyof typeof S) => w + (at[name] as number);
    i32[w + S.B] = B;
    i32[w + S.maxNew] = maxNew;
    i32[w + S.rng] = request.rngState | 0;
    i32[w + S.greedy] = request.temperature === 0 ? 1 : 0;
    i32[w + S.stopN] = request.stopTokens.length;
    i32.set(request.stopTokens, arr("stop"));
    i32.set(request.positions.subarray(0, B), arr("pos"));
    for (let b = 0; b < B; b++) {
      const limit = Math.min(maxNew, request.limits[b]);
      i32[arr("limit") + b] = limit;
      if (limit <= 0) i32[arr("done") + b] = 2;
    }
    f64[(st >>> 3) + S.temperature / 2] = request.temperature > 0 ? request.temperature : 1;
    f64[(st >>> 3) + S.logV / 2] = Math.log(V);
    // The prefill's rows, gathered once.
    const src = (request.logits as WasmStorage).clean();
    for (let b = 0; b < B; b++)
      f32.set(src.subarray(request.rows[b] * V, (request.rows[b] + 1) * V), arr("logits") + b * V);

    // The loop: nothing below allocates.
    const scratch = host.exports.decodeScratchBytes(planBlock.ptr, B);
    let forward = 0;
    for (let step = 0; step <= maxNew; step++) {
      const n = host.exports.decodeBegin(st);
      if (n === 0) break;
      const units = Math.ceil(n / 4);
      const chunks = host.split(units > 1 && forward === 1, Math.min(units, 2 * host.threads));
      host.run.decodeStep(chunks, planBlock.ptr, st, forward, scratch);
      forward = 1;
    }

    const out: DecodeResult = {
      tokens: [],
      stopped: [],
      logp: [],
      entropy: [],
      selfCertainty: [],
      rngState: i32[w + S.rng] >>> 0,
    };
    for (let b = 0; b < B; b++) {
      const n = i32[arr("len") + b];
      const o = b * maxNew;
      out.tokens.push(i32.slice(arr("tokens") + o, arr("tokens") + o + n));
      out.logp.push(f32.slice(arr("logp") + o, arr("logp") + o + n));
      out.entropy.push(f32.slice(arr("entropy") + o, arr("entropy") + o + n));
      out.selfCertainty.push(f32.slice(arr("sc") + o, arr("sc") + o + n));
      out.stopped.push(i32[arr("done") + b] === 1);
    }
    return out;
  } finally {
    heap.release(stateBlock.ptr, stateBlock.cls);
    heap.release(planBlock.ptr, planBlock.cls);
    heap.release(packBlock.ptr, packBlock.cls);
  }
}

/** Floats of each packed matrix, in plan order: per layer q, k, v, o, gate, up, down; the head. */
function packedSizes(host: DecoderHost, plan: DecoderPlan<CpuStorage>): number[] {
  const { d, Hq, Hkv, D, ff, V } = plan.dims;
  const shapes: [number, number][] = [
    [Hq * D, d],
    [Hkv * D, d],
    [Hkv * D, d],
    [d, Hq * D],
    [ff, d],
    [ff, d],
    [d, ff],
  ];
  const sizes = plan.layers.flatMap(() => shapes.map(([n, k]) => host.exports.packedFloats(n, k)));
  sizes.push(host.exports.packedFloats(V, d));
  return sizes;
}

function writePlan(
  host: DecoderHost,
  plan: DecoderPlan<CpuStorage>,
  ptr: number,
  rope: { cos: number; sin: number },
  packPtr: number,
  packed: number[],
): void {
  const { d, Hq, Hkv, D, ff, V } = plan.dims;
  const i32 = new Int32Array(host.heap.buffer);
  const f32 = new Float32Array(host.heap.buffer);
  const w = ptr >>> 2;
  i32.fill(0, w, w + PLAN_WORDS + LAYER_WORDS * plan.layers.length);
  const dims = { L: plan.layers.length, dim: d, Hq, Hkv, D, ff, V, capacity: plan.capacity };
  for (const [k, v] of Object.entries(dims)) i32[w + P[k as keyof typeof dims]] = v;
  f32[w + P.eps] = plan.eps;
  f32[w + P.scale] = 1 / Math.sqrt(D);
  // Offsets of storages the kernels read: cleaned (lazily zeroed ones made real) first.
  const at = (s: CpuStorage) => {
    (s as WasmStorage).clean();
    return (s as WasmStorage).ptr;
  };
  i32[w + P_PTR.embed] = at(plan.embed);
  i32[w + P_PTR.norm] = at(plan.norm);
  i32[w + P_PTR.head] = at(plan.head);
  i32[w + P_PTR.cos] = rope.cos;
  i32[w + P_PTR.sin] = rope.sin;
  let next = packPtr;
  const packedAt = (i: number) => {
    const at = next;
    next += 4 * packed[i];
    return at;
  };
  plan.layers.forEach((layer, l) => {
    const lw = w + PLAN_WORDS + l * LAYER_WORDS;
    LAYER.forEach((name, i) => {
      const s = layer[name];
      i32[lw + i] = s === null ? 0 : at(s);
    });
    i32[lw + L_KCACHE] = at(plan.cacheK[l]);
    i32[lw + L_VCACHE] = at(plan.cacheV[l]);
    for (let m = 0; m < 7; m++) i32[lw + L_PACKED + m] = packedAt(7 * l + m);
  });
  i32[w + P_PTR.headPacked] = packedAt(7 * plan.layers.length);
}
