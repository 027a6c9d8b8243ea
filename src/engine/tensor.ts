// Tensors, memory scopes and reverse-mode autodiff.
//
// A Tensor is a shape over a backend storage. Ops (ops.ts) record a GradFn on their output when
// any input requires a gradient; `backward(loss)` walks those records in reverse topological
// order. Memory is explicit, as in TF.js: tensors made inside `tidy(fn)` are freed when fn
// returns, except what it returns; parameters and their gradients live outside any scope.

import type { Backend, FloatArray, Storage } from "./backend.ts";
import { CpuBackend } from "./backends/cpu/backend.ts";

export interface GradFn {
  readonly name: string;
  readonly inputs: readonly Tensor[];
  /** Accumulate the gradients of the inputs, given the gradient of the output. */
  backward(gradOut: Tensor): void;
}

let currentBackend: Backend = new CpuBackend("f32");
export function setBackend(b: Backend): void {
  currentBackend = b;
}
export function getBackend(): Backend {
  return currentBackend;
}

// ---------------------------------------------------------------- scopes
const scopes: Tensor[][] = [];
let gradEnabled = true;

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Run fn with gradient recording off (sampling, evaluation, rewards). */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

function collectTensors(x: unknown, out: Set<Tensor>): void {
  if (x instanceof Tensor) out.add(x);
  else if (Array.isArray(x)) for (const y of x) collectTensors(y, out);
  else if (x && typeof x === "object" && Object.getPrototypeOf(x) === Object.prototype)
    for (const y of Object.values(x)) collectTensors(y, out);
}

/** tidy for an async fn (reads from a GPU inside a graph's construction). No other tensor work may
 *  run while it awaits: tensors made meanwhile would land in its scope. */
export async function tidyAsync<T>(fn: () => Promise<T>): Promise<T> {
  const scope: Tensor[] = [];
  scopes.push(scope);
  let result: T;
  try {
    result = await fn();
  } catch (e) {
    closeScope(scope, undefined);
    throw e;
  }
  return closeScope(scope, result);
}

/** Ends a tidy scope (wherever it sits on the stack): frees its tensors except those in `result`,
 *  which move to the enclosing scope. */
function closeScope<T>(scope: Tensor[], result: T): T {
  scopes.splice(scopes.indexOf(scope), 1);
  const keep = new Set<Tensor>();
  collectTensors(result, keep);
  const parent = scopes[scopes.length - 1];
  for (const t of scope) {
    if (keep.has(t)) parent?.push(t);
    else t.dispose();
  }
  return result;
}

/** Run fn; free every tensor it created except those in its result (which move to the outer scope). */
export function tidy<T>(fn: () => T): T {
  const scope: Tensor[] = [];
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    closeScope(scope, undefined);
    throw e;
  }
  return closeScope(scope, result);
}

/** Take a tensor out of scope tracking so that tidy will not free it. */
export function keep<T extends Tensor>(t: T): T {
  for (const s of scopes) {
    const i = s.indexOf(t);
    if (i >= 0) s.splice(i, 1);
  }
  return t;
}

// ---------------------------------------------------------------- tensor
export class Tensor {
  readonly shape: readonly number[];
  readonly size: number;
  readonly backend: Backend;
  storage: Storage;
  requiresGrad: boolean;
  grad: Tensor | null = null;
  gradFn: GradFn | null = null;
  name = "";
  private disposed = false;
  private readonly ownsStorage: boolean;

  constructor(
    shape: readonly number[],
    opts: { backend?: Backend; storage?: Storage; requiresGrad?: boolean; track?: boolean } = {},
  ) {
    for (const d of shape)
      if (!Number.isInteger(d) || d < 0) throw new Error(`invalid tensor shape [${shape.join(", ")}]`);
    this.shape = [...shape];
    this.size = shape.reduce((a, b) => a * b, 1);
    this.backend = opts.backend ?? currentBackend;
    this.ownsStorage = !opts.storage;
    this.storage = opts.storage ?? this.backend.alloc(this.size);
    if (this.storage.size < this.size) throw new Error("storage smaller than tensor");
    this.requiresGrad = opts.requiresGrad ?? false;
    if (opts.track !== false) scopes[scopes.length - 1]?.push(this);
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.ownsStorage) this.backend.free(this.storage);
    this.gradFn = null;
    if (this.grad) {
      this.grad.dispose();
      this.grad = null;
    }
  }

  private check(): void {
    if (this.disposed) throw new Error(`use of a disposed tensor ${this.name || `[${this.shape}]`}`);
  }

  /** Read the values back (async: a GPU backend copies from the device). */
  async read(): Promise<FloatArray> {
    this.check();
    return (await this.backend.read(this.storage)).subarray(0, this.size);
  }

  /** Synchronous read, CPU backends only. The array may alias the storage: copy before keeping. */
  readSync(): FloatArray {
    this.check();
    if (this.hostCopy) return this.hostCopy;
    return this.backend.readSync(this.storage).subarray(0, this.size);
  }

  /** Values fetched by fetchToHost(): what readSync returns on a backend that cannot read
   *  synchronously (WebGPU), for code that needs a tensor's values while building a graph. */
  private hostCopy: FloatArray | null = null;

  /** Read the values once (async) so that later readSync calls return them. Only for tensors no
   *  kernel writes afterwards (op outputs such as log-probabilities). */
  async fetchToHost(): Promise<void> {
    this.hostCopy = Float32Array.from(await this.read());
  }

  dropHostCopy(): void {
    this.hostCopy = null;
  }

  toArray(): number[] {
    return Array.from(this.readSync());
  }

  item(): number {
    if (this.size !== 1) throw new Error(`item() on a tensor of ${this.size} elements`);
    return this.readSync()[0];
  }

  /** Same storage, new shape (no copy). Gradients flow through to this tensor. */
  reshape(shape: readonly number[]): Tensor {
    this.check();
    const n = shape.reduce((a, b) => a * b, 1);
    if (n !== this.size) throw new Error(`cannot reshape [${this.shape}] to [${shape}]`);
    const out = new Tensor(shape, { backend: this.backend, storage: this.storage });
    if (this.requiresGrad && gradEnabled) {
      out.requiresGrad = true;
      const src = this;
      out.gradFn = {
        name: "reshape",
        inputs: [src],
        backward(g) {
          src.backend.axpy(gradOf(src).storage, g.storage, 1);
        },
      };
    }
    return out;
  }

  write(values: ArrayLike<number>): this {
    this.check();
    if (values.length !== this.size) throw new Error(`write of ${values.length} values into ${this.size}`);
    this.backend.write(this.storage, values);
    return this;
  }
}

// ---------------------------------------------------------------- constructors
export function zeros(shape: readonly number[], requiresGrad = false): Tensor {
  return new Tensor(shape, { requiresGrad });
}

export function tensor(values: ArrayLike<number>, shape?: readonly number[], requiresGrad = false): Tensor {
  const t = new Tensor(shape ?? [values.length], { requiresGrad });
  return t.write(values);
}

/** A parameter: untracked by scopes, requires grad. */
export function parameter(shape: readonly number[], values?: ArrayLike<number>, name = ""): Tensor {
  const t = new Tensor(shape, { requiresGrad: true, track: false });
  t.name = name;
  if (values) t.write(values);
  return t;
}

/** The gradient buffer of t, allocated (zeroed, outside any scope) on first use. */
export function gradOf(t: Tensor): Tensor {
  if (!t.grad) t.grad = new Tensor(t.shape, { backend: t.backend, track: false });
  return t.grad;
}

// ---------------------------------------------------------------- backward
/** Reverse-mode autodiff from a scalar (or seeded) output. Leaf gradients accumulate in `.grad`;
 *  intermediate gradients are freed as soon as they have been propagated. */
export function backward(root: Tensor, seed?: Tensor): void {
  if (!root.requiresGrad) throw new Error("backward() on a tensor that does not require grad");
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  // Iterative post-order DFS: deep transformer graphs would overflow a recursive one.
  const stack: [Tensor, boolean][] = [[root, false]];
  while (stack.length) {
    const [t, done] = stack.pop()!;
    if (done) {
      order.push(t);
      continue;
    }
    if (seen.has(t)) continue;
    seen.add(t);
    stack.push([t, true]);
    if (t.gradFn) for (const x of t.gradFn.inputs) if (x.requiresGrad && !seen.has(x)) stack.push([x, false]);
  }
  const g = gradOf(root);
  if (seed) root.backend.axpy(g.storage, seed.storage, 1);
  else if (root.size === 1) root.backend.fill(g.storage, 1);
  else throw new Error("backward() from a non-scalar needs a seed gradient");
  for (let i = order.length - 1; i >= 0; i--) {
    const t = order[i];
    if (!t.gradFn || !t.grad) continue;
    t.gradFn.backward(t.grad);
    t.grad.dispose();
    t.grad = null;
  }
}
