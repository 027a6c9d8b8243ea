// The kernel contract: every compute kernel described once, as its argument list. A backend
// derives its calls from this table: the CPU glue (backends/cpu/wasm/calls.ts) marshals storages,
// index arrays, scalars and per-thread scratch into the WebAssembly exports of the same name, and
// checks the table against the module when it loads; a GPU backend can derive its bindings
// (read-only / read-write buffers, uniforms) from the same kinds.
//
// One line per kernel: `name: kind[size]`, comma-separated, in call order. Chunked kernels take
// (t, nt) first (share t of nt, so a pool can split them); a kernel with a result (`-> f64`)
// runs whole. Kinds:
//   in        f32 buffer the kernel reads
//   out       f32 buffer it overwrites at its first `size` floats
//   acc       f32 buffer it reads and updates in place (accumulated gradients, optimiser state)
//   out|acc   out, or acc when the kernel's `acc` argument is nonzero
//   ints      i32 index array the kernel reads (token ids, targets, positions): host data
//   const     a constant table the backend owns and fills (rope's cos/sin): not a caller's storage
//   block     a block of words the backend owns, lays out and updates (a decoder's plan and
//             state, backends/cpu/wasm/decoder.ts): not a caller's storage
//   i32, f32  scalars (sizes, flags, op codes; coefficients)
//   scratch   per-thread scratch: the caller gives the bytes one thread needs (wasm: base, stride)
// A `?` after the kind allows null (the kernel skips that output). Sizes are products of integer
// arguments and constants, or `flag ? size : size`.

export const KERNEL_TABLE = {
  matmul:
    "C: out|acc[M*N], A: in[M*K], B: in[K*N], M: i32, N: i32, K: i32, transA: i32, transB: i32, acc: i32, scratch",
  attentionForward:
    "out: out[B*Tq*Hq*D], lse: out[B*Hq*Tq], q: in[B*Tq*Hq*D], k: in[B*Tk*Hkv*D], v: in[B*Tk*Hkv*D], B: i32, Tq: i32, Tk: i32, Hq: i32, Hkv: i32, D: i32, pos0: ints[B], scale: f32, scratch",
  attentionDecode:
    "out: out[B*Hq*D], lse: out[B*Hq], q: in[B*Hq*D], k: in[B*Tk*Hkv*D], v: in[B*Tk*Hkv*D], B: i32, Tk: i32, Hq: i32, Hkv: i32, D: i32, pos0: ints[B], scale: f32, scratch",
  attentionBackward:
    "dq: acc[B*T*Hq*D], dk: acc[B*T*Hkv*D], dv: acc[B*T*Hkv*D], dOut: in[B*T*Hq*D], q: in[B*T*Hq*D], k: in[B*T*Hkv*D], v: in[B*T*Hkv*D], out: in[B*T*Hq*D], lse: in[B*Hq*T], B: i32, T: i32, Hq: i32, Hkv: i32, D: i32, scale: f32, scratch",
  tokenStatsForward: "out: out[N*3], lse: out[N], logits: in[N*V], targets: ints[N], N: i32, V: i32",
  tokenStatsBackward:
    "dLogits: acc[N*V], dOut: in[N*3], logits: in[N*V], lse: in[N], targets: ints[N], N: i32, V: i32, scratch",
  rmsnormForward:
    "y: out[rows*dim], rstd: out[rows], x: in[rows*dim], w: in[dim], rows: i32, dim: i32, eps: f32",
  rmsnormBackward:
    "dx: acc[rows*dim], dw: acc[dim], dy: in[rows*dim], x: in[rows*dim], w: in[dim], rstd: in[rows], rows: i32, dim: i32",
  swigluForward: "out: out[n], gate: in[n], up: in[n], n: i32",
  swigluBackward: "dGate: acc[n], dUp: acc[n], gate: in[n], up: in[n], dOut: in[n], n: i32",
  adamw:
    "param: acc[n], grad: in[n], m: acc[n], v: acc[n], n: i32, lr: f32, beta1: f32, beta2: f32, eps: f32, weightDecay: f32, bc1: f32, bc2: f32",
  axpy: "y: acc[n], x: in[n], alpha: f32, n: i32",
  binary: "op: i32, out: out[n], a: in[n], b: in[bScalar ? 1 : n], n: i32, bScalar: i32",
  binaryBackward: "op: i32, dA: acc?[n], dB: acc?[n], a: in[n], b: in[n], dOut: in[n], n: i32",
  unary: "op: i32, out: out[n], a: in[n], n: i32",
  unaryBackward: "op: i32, dA: acc[n], a: in[n], y: in[n], dOut: in[n], n: i32",
  affine: "out: out[n], a: in[n], s: f32, u: f32, n: i32",
  addRowVector: "out: out[rows*cols], a: in[rows*cols], bias: in[cols], rows: i32, cols: i32",
  sumRowsAcc: "out: acc[cols], a: in[rows*cols], rows: i32, cols: i32",
  sumRows: "out: out[rows], a: in[rows*cols], rows: i32, cols: i32",
  broadcastRows: "out: out|acc[rows*cols], s: in[rows], rows: i32, cols: i32, acc: i32",
  rope: "out: out[rows*H*D], x: in[rows*H*D], positions: ints[rows], rows: i32, H: i32, D: i32, cosT: const, sinT: const, sign: f32",
  embedding: "out: out[n*dim], table: in, ids: ints[n], n: i32, dim: i32",
  embeddingBackward: "dTable: acc, ids: ints[n], dOut: in[n*dim], n: i32, dim: i32",
  decodePack: "plan: block",
  decodeStep: "plan: block, state: block, forward: i32, scratch",
  decodeBegin: "state: block -> f64",
  sumAll: "a: in[n], n: i32 -> f64",
  sumSquares: "a: in[n], n: i32 -> f64",
} as const;

export type KernelName = keyof typeof KERNEL_TABLE;
/** Kernels that take (t, nt) and return nothing. */
export type ChunkedKernelName = {
  [K in KernelName]: (typeof KERNEL_TABLE)[K] extends `${string}->${string}` ? never : K;
}[KernelName];

export type ArgKind =
  | "in"
  | "out"
  | "acc"
  | "out|acc"
  | "ints"
  | "const"
  | "block"
  | "i32"
  | "f32"
  | "scratch";
/** A buffer size: the product of `factors` (argument names or constants), or of `otherwise`
 *  where the integer argument `cond` is zero. */
export interface SizeExpr {
  factors: readonly (string | number)[];
  cond?: string;
  otherwise?: readonly (string | number)[];
}
export interface KernelArg {
  name: string;
  kind: ArgKind;
  /** Minimum floats (or ints) the buffer must hold; null: not checked (embedding tables). */
  size: SizeExpr | null;
  /** null allowed: the kernel skips this output. */
  optional: boolean;
}
export interface KernelSpec {
  name: KernelName;
  args: readonly KernelArg[];
  /** Chunked kernels take (t, nt) first; the others run whole and return this. */
  chunked: boolean;
  returns: "f64" | null;
}

const KINDS: readonly ArgKind[] = [
  "in",
  "out",
  "acc",
  "out|acc",
  "ints",
  "const",
  "block",
  "i32",
  "f32",
  "scratch",
];

function factors(s: string, where: string): (string | number)[] {
  return s.split("*").map((f) => {
    const t = f.trim();
    if (/^\d+$/.test(t)) return Number(t);
    if (/^[A-Za-z]\w*$/.test(t)) return t;
    throw new Error(`${where}: bad size factor "${t}"`);
  });
}

function parseSize(s: string, where: string): SizeExpr {
  const m = /^(\w+) \? (.+) : (.+)$/.exec(s);
  if (m) return { cond: m[1], factors: factors(m[2], where), otherwise: factors(m[3], where) };
  return { factors: factors(s, where) };
}

/** Parses one line of the table (exported for tests; the table is parsed once at load). */
export function parseKernel(name: KernelName, line: string): KernelSpec {
  const [argText, ret] = line.split("->").map((s) => s.trim());
  const args: KernelArg[] = argText.split(",").map((a) => {
    const where = `kernel ${name}, "${a.trim()}"`;
    if (a.trim() === "scratch") return { name: "scratch", kind: "scratch", size: null, optional: false };
    const m = /^\s*(\w+): ([a-z0-9|]+)(\?)?(?:\[([^\]]+)\])?\s*$/.exec(a);
    if (!m || !KINDS.includes(m[2] as ArgKind)) throw new Error(`${where}: not "name: kind[size]"`);
    const kind = m[2] as ArgKind;
    const sized = kind === "in" || kind === "out" || kind === "acc" || kind === "out|acc" || kind === "ints";
    if (m[4] && !sized) throw new Error(`${where}: a ${kind} has no size`);
    if (kind === "out" && !m[4]) throw new Error(`${where}: an output needs a size`);
    return { name: m[1], kind, size: m[4] ? parseSize(m[4], where) : null, optional: m[3] === "?" };
  });
  for (const a of args) {
    const names = [a.size?.factors, a.size?.otherwise, a.size?.cond ? [a.size.cond] : []].flat();
    for (const f of names)
      if (typeof f === "string" && !args.some((b) => b.name === f && b.kind === "i32"))
        throw new Error(`kernel ${name}: size of ${a.name} uses ${f}, not an i32 argument`);
    if (a.kind === "out|acc" && !args.some((b) => b.name === "acc" && b.kind === "i32"))
      throw new Error(`kernel ${name}: ${a.name} is out|acc but there is no i32 argument "acc"`);
  }
  if (ret !== undefined && ret !== "f64") throw new Error(`kernel ${name}: unknown result type ${ret}`);
  return { name, args, chunked: ret === undefined, returns: ret === undefined ? null : "f64" };
}

/** The parsed table, by kernel name. */
export const KERNELS: { readonly [K in KernelName]: KernelSpec } = Object.fromEntries(
  (Object.keys(KERNEL_TABLE) as KernelName[]).map((n) => [n, parseKernel(n, KERNEL_TABLE[n])]),
) as { [K in KernelName]: KernelSpec };

/** Names of the chunked kernels, in table order. */
export const CHUNKED_KERNELS = (Object.keys(KERNELS) as KernelName[]).filter(
  (n) => KERNELS[n].chunked,
) as ChunkedKernelName[];

// ---------------------------------------------------------------- the table as call types
// A chunked kernel's arguments as a caller passes them: storages for buffers (S | null where `?`),
// Int32Array for ints, numbers for scalars, const table offsets and scratch bytes.
type Trim<T extends string> = T extends ` ${infer R}` ? Trim<R> : T extends `${infer R} ` ? Trim<R> : T;
type SplitArgs<T extends string> = T extends `${infer H},${infer R}` ? [Trim<H>, ...SplitArgs<R>] : [Trim<T>];
type KindOf<A extends string> = A extends `${string}: ${infer K}` ? K : A;
type ValueOf<K extends string, S> = K extends `ints${string}`
  ? Int32Array
  : K extends `${"in" | "out" | "acc" | "out|acc"}?${string}`
    ? S | null
    : K extends `${"in" | "out" | "acc" | "out|acc"}${"" | `[${string}`}`
      ? S
      : number;
type ValuesOf<L extends readonly string[], S> = { [I in keyof L]: ValueOf<KindOf<L[I]>, S> };
export type KernelArgs<K extends KernelName, S> = ValuesOf<SplitArgs<(typeof KERNEL_TABLE)[K]>, S>;
