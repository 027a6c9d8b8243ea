// Where a backend runs each op: a listable table instead of fallbacks hidden in inheritance.
// `rlif info --backend` prints it; tests check that every listed case really runs where it says.

import type { Backend } from "./backend.ts";

/** The compute ops of the Backend interface (storage management left out). */
export type BackendOp = Exclude<
  keyof Backend,
  "name" | "dtype" | "routes" | "alloc" | "free" | "write" | "read" | "readSync" | "copy" | "fill"
>;

/** One case of an op, in the order the backend checks them: the first whose `when` holds runs. */
export interface Route {
  runs: "wasm" | "reference";
  /** The kernel of engine/kernels.ts that runs (wasm). */
  kernel?: string;
  /** The condition, in words; "always" or "otherwise" for the last case. */
  when: string;
  /** wasm: the condition under which the call is split over the thread pool. */
  threaded?: string;
}

export type RouteTable = { readonly [op in BackendOp]: readonly Route[] };

/** Every op of the Backend interface, in its order (checked against BackendOp by the type). */
export const BACKEND_OPS = [
  "unary",
  "unaryBackward",
  "binary",
  "binaryBackward",
  "clamp",
  "clampBackward",
  "affine",
  "axpy",
  "sum",
  "sumRowsAcc",
  "addRowVector",
  "broadcastRows",
  "sumSquares",
  "matmul",
  "embedding",
  "embeddingBackward",
  "rmsnorm",
  "rmsnormBackward",
  "rope",
  "attention",
  "attentionBackward",
  "swiglu",
  "swigluBackward",
  "tokenStats",
  "tokenStatsBackward",
  "adamw",
  "decode",
] as const satisfies readonly BackendOp[];
type Unlisted = Exclude<BackendOp, (typeof BACKEND_OPS)[number]>;
// Fails to compile when an op of the Backend interface is missing above.
const allListed: [Unlisted] extends [never] ? true : Unlisted = true;
void allListed;

/** Every op on the TypeScript reference kernels (the js backend). */
export const REFERENCE_ROUTES: RouteTable = Object.fromEntries(
  BACKEND_OPS.map((op) => [op, [{ runs: "reference", when: "always" }]]),
) as unknown as RouteTable;

/** The table as text lines: op, where it runs, when. `threads` = 1 leaves the threaded cases out. */
export function formatRoutes(table: RouteTable, threads: number): string[] {
  const rows: [string, string, string][] = [];
  for (const op of BACKEND_OPS) {
    let first = true;
    for (const r of table[op]) {
      const name = first ? op : "";
      first = false;
      if (r.runs === "reference") {
        rows.push([name, "TS reference", r.when]);
        continue;
      }
      const k = r.kernel ? ` (${r.kernel})` : "";
      const plain = r.when === "always" || r.when === "otherwise";
      if (threads > 1 && r.threaded) {
        rows.push([name, `wasm threaded${k}`, plain ? r.threaded : `${r.when}, and ${r.threaded}`]);
        rows.push(["", `wasm SIMD${k}`, plain ? "otherwise" : `${r.when}, otherwise`]);
      } else rows.push([name, `wasm SIMD${k}`, r.when]);
    }
  }
  rows.unshift(["op", "runs on", "when (cases in order: the first that holds runs)"]);
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  return rows.map(([a, b, c]) => `${a.padEnd(w0)}  ${b.padEnd(w1)}  ${c}`);
}
