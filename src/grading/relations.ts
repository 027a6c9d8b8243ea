// Inequalities and chains of them (x \ge 5, 5 \le x, -x > -1, a < x \le b, x \ne 3), after
// normalize.ts has unified their spellings. Two relations are the same when, written with < or
// \le, their sides agree, or when their differences left - right are proportional with a
// positive factor (x < 1 and -x > -1); for \ne any non-zero factor.

import { type Node, parseLatex } from "./latex.ts";
import { type NumericOptions, ratioSign } from "./numeric.ts";

export type RelOp = "<" | ">" | "le" | "ge" | "ne";

export interface Relation {
  parts: string[];
  ops: RelOp[];
}

const MAX_PARTS = 8;

/** The top-level relation operators of `s` and the parts between them; null when there are none. */
export function splitRelation(s: string): Relation | null {
  const parts: string[] = [];
  const ops: RelOp[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    let op: RelOp | null = null;
    let len = 1;
    if (c === "\\") {
      const m = /^\\([a-zA-Z]+|.)/.exec(s.slice(i, i + 24));
      const name = m?.[1] ?? "";
      if (name === "{") depth++;
      else if (name === "}") depth--;
      else if (depth === 0 && (name === "le" || name === "ge" || name === "ne")) op = name;
      len = (m?.[0].length ?? 1) as number;
      if (op === null) {
        i += len - 1;
        continue;
      }
    } else if (c === "(" || c === "[" || c === "{") depth++;
    else if (c === ")" || c === "]" || c === "}") depth--;
    else if (depth === 0 && (c === "<" || c === ">")) op = c;
    if (op === null) continue;
    parts.push(s.slice(start, i));
    ops.push(op);
    start = i + len;
    i += len - 1;
    if (ops.length > MAX_PARTS) return null;
  }
  if (ops.length === 0) return null;
  parts.push(s.slice(start));
  return parts.every((p) => p.trim() !== "") ? { parts, ops } : null;
}

const FLIP: Record<RelOp, RelOp> = { "<": ">", ">": "<", le: "ge", ge: "le", ne: "ne" };

/** The relation written with < and \le only (a > b is b < a); null for mixed directions. */
function ascending(r: Relation): Relation | null {
  const up = r.ops.every((o) => o === "<" || o === "le" || o === "ne");
  const down = r.ops.every((o) => o === ">" || o === "ge" || o === "ne");
  if (up) return r;
  if (!down) return null;
  return { parts: [...r.parts].reverse(), ops: [...r.ops].reverse().map((o) => FLIP[o]) };
}

export function relationsEqual(
  a: Relation,
  b: Relation,
  scalarEqual: (x: string, y: string) => boolean,
  opts: NumericOptions,
): boolean {
  const ua = ascending(a);
  const ub = ascending(b);
  if (ua === null || ub === null || ua.ops.length !== ub.ops.length) return false;
  if (!ua.ops.every((o, i) => o === ub.ops[i])) return false;
  if (ua.parts.every((p, i) => scalarEqual(p, ub.parts[i]!))) return true;
  if (ua.parts.length !== 2) return false;
  const da = difference(ua.parts[0]!, ua.parts[1]!);
  const db = difference(ub.parts[0]!, ub.parts[1]!);
  if (da === null || db === null) return false;
  const sign = ratioSign(da, db, opts);
  return ua.ops[0] === "ne" ? sign !== null : sign === 1;
}

function difference(l: string, r: string): Node | null {
  const a = parseLatex(l);
  const b = parseLatex(r);
  return a === null || b === null ? null : { t: "sub", a, b };
}

/** `a < x \le b` as the interval `(a,b]` (the middle part is what ranges over it). */
export function relationAsInterval(r: Relation): string | null {
  const u = ascending(r);
  if (u === null || u.parts.length !== 3 || u.ops.includes("ne")) return null;
  const open = u.ops[0] === "<" ? "(" : "[";
  const close = u.ops[1] === "<" ? ")" : "]";
  return `${open}${u.parts[0]},${u.parts[2]}${close}`;
}
