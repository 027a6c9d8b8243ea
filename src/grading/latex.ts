// A small parser for the LaTeX of final answers (after normalize.ts) into an expression tree.
// It is deliberately bounded: at most MAX_TOKENS tokens and MAX_DEPTH nested constructs, so an
// adversarial answer fails fast (null) instead of recursing deeply. The tree is then evaluated
// exactly (rational.ts) or numerically with mathjs functions (numeric.ts).

import { spend } from "./work.ts";

export type Node =
  | { t: "num"; v: string } // decimal literal, maybe with exponent: 12, 0.5, 1.2e3
  | { t: "var"; name: string }
  | { t: "const"; name: "pi" | "e" | "i" | "inf" }
  | { t: "neg"; a: Node }
  | { t: "add" | "sub" | "mul" | "div" | "pow"; a: Node; b: Node }
  | { t: "fn"; name: string; args: Node[] }
  | { t: "deg"; a: Node }; // a^\circ inside a trigonometric argument: a * pi / 180

const MAX_TOKENS = 600;
const MAX_DEPTH = 60;

type Tok =
  | { k: "num"; v: string }
  | { k: "id"; v: string }
  | { k: "cmd"; v: string }
  | { k: "op"; v: string };

export const GREEK = new Set([
  "alpha",
  "beta",
  "gamma",
  "delta",
  "epsilon",
  "varepsilon",
  "zeta",
  "eta",
  "theta",
  "vartheta",
  "iota",
  "kappa",
  "lambda",
  "mu",
  "nu",
  "xi",
  "rho",
  "sigma",
  "tau",
  "upsilon",
  "phi",
  "varphi",
  "chi",
  "psi",
  "omega",
  "Gamma",
  "Delta",
  "Theta",
  "Lambda",
  "Xi",
  "Sigma",
  "Phi",
  "Psi",
  "Omega",
]);

const TRIG = new Set(["sin", "cos", "tan", "cot", "sec", "csc", "sinh", "cosh", "tanh"]);
const FUNCS = new Set([
  ...TRIG,
  "arcsin",
  "arccos",
  "arctan",
  "log",
  "ln",
  "exp",
  "lg",
  "max",
  "min",
  "gcd",
  "lcm",
]);
const OP_CMDS: Record<string, string> = { cdot: "*", times: "*", ast: "*", div: "/" };

class ParseError extends Error {}

function tokenize(s: string): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  const n = s.length;
  while (i < n) {
    if (toks.length > MAX_TOKENS) throw new ParseError("too many tokens");
    const c = s[i]!;
    if (c === " ") {
      i++;
    } else if (/[0-9.]/.test(c)) {
      let j = i;
      while (j < n && /[0-9]/.test(s[j]!)) j++;
      if (s[j] === "." && /[0-9]/.test(s[j + 1] ?? "")) {
        j++;
        while (j < n && /[0-9]/.test(s[j]!)) j++;
      } else if (j === i) {
        throw new ParseError("stray '.'");
      }
      // Scientific notation 1.2e3 / 1.2e-3 / 1.2E+3 (a bare `2e` stays 2 * e).
      const ex = /^[eE][+-]?[0-9]+/.exec(s.slice(j, j + 12));
      if (ex) j += ex[0].length;
      toks.push({ k: "num", v: s.slice(i, j) });
      i = j;
    } else if (/[a-zA-Z]/.test(c)) {
      toks.push({ k: "id", v: c });
      i++;
    } else if (c === "\\") {
      const m = /^\\([a-zA-Z]+|.)/.exec(s.slice(i, i + 30));
      if (m === null) throw new ParseError("stray backslash");
      const name = m[1]!;
      i += m[0].length;
      if (OP_CMDS[name] !== undefined) toks.push({ k: "op", v: OP_CMDS[name] });
      else if (GREEK.has(name)) toks.push({ k: "id", v: name });
      else if (name === "lfloor" || name === "rfloor" || name === "lceil" || name === "rceil") {
        toks.push({ k: "op", v: name });
      } else if (name === "vert" || name === "lvert" || name === "rvert" || name === "mid") {
        toks.push({ k: "op", v: "|" });
      } else if (name === "operatorname" || name === "mathrm") {
        // \operatorname{lcm} -> the command lcm
        const g = /^\{([a-zA-Z]+)\}/.exec(s.slice(i, i + 30));
        if (g === null) throw new ParseError("bad \\operatorname");
        toks.push({ k: "cmd", v: g[1]! });
        i += g[0].length;
      } else toks.push({ k: "cmd", v: name });
    } else if ("+-*/^_!()[]{}|,=".includes(c)) {
      toks.push({ k: "op", v: c });
      i++;
    } else if (c === "'") {
      throw new ParseError("prime");
    } else {
      throw new ParseError(`unexpected '${c}'`);
    }
  }
  return toks;
}

class Parser {
  private pos = 0;
  private depth = 0;
  private trigArg = 0;
  constructor(private readonly toks: Tok[]) {}

  parseAll(): Node {
    const e = this.expr();
    if (this.pos !== this.toks.length) throw new ParseError("trailing tokens");
    return e;
  }

  private peek(off = 0): Tok | undefined {
    return this.toks[this.pos + off];
  }
  private isOp(v: string, off = 0): boolean {
    const t = this.peek(off);
    return t !== undefined && t.k === "op" && t.v === v;
  }
  private isCmd(v: string, off = 0): boolean {
    const t = this.peek(off);
    return t !== undefined && t.k === "cmd" && t.v === v;
  }
  private expect(v: string): void {
    if (!this.isOp(v)) throw new ParseError(`expected ${v}`);
    this.pos++;
  }
  private enter(): void {
    if (++this.depth > MAX_DEPTH) throw new ParseError("too deep");
  }

  private expr(): Node {
    this.enter();
    let left = this.term();
    while (this.isOp("+") || this.isOp("-")) {
      const op = this.toks[this.pos++]!.v;
      const right = this.term();
      left = { t: op === "+" ? "add" : "sub", a: left, b: right };
    }
    this.depth--;
    return left;
  }

  private term(): Node {
    let left = this.unary();
    for (;;) {
      if (this.isOp("*") || this.isOp("/")) {
        const op = this.toks[this.pos++]!.v;
        const right = this.unary();
        left = { t: op === "*" ? "mul" : "div", a: left, b: right };
      } else if (this.startsPrimary()) {
        left = { t: "mul", a: left, b: this.power() };
      } else {
        return left;
      }
    }
  }

  private unary(): Node {
    if (this.isOp("-") || this.isOp("+")) {
      const neg = this.toks[this.pos++]!.v === "-";
      this.enter();
      const a = this.unary();
      this.depth--;
      return neg ? { t: "neg", a } : a;
    }
    return this.power();
  }

  /** Tokens that can start an implicitly multiplied factor (`2x`, `3\sqrt2`, `(x+1)(x-1)`). */
  private startsPrimary(): boolean {
    const t = this.peek();
    if (t === undefined) return false;
    if (t.k === "num" || t.k === "id") return true;
    if (t.k === "cmd") return t.v !== "circ" && t.v !== "pm" && t.v !== "mp";
    return t.v === "(" || t.v === "[" || t.v === "{" || t.v === "lfloor" || t.v === "lceil";
  }

  private power(): Node {
    let base = this.postfix(this.primary());
    while (this.isOp("^")) {
      this.pos++;
      if (this.isCmd("circ")) {
        this.pos++;
        if (this.trigArg > 0) base = { t: "deg", a: base };
        continue;
      }
      base = this.postfix({ t: "pow", a: base, b: this.scriptArg() });
    }
    return base;
  }

  private postfix(a: Node): Node {
    while (this.isOp("!")) {
      this.pos++;
      a = { t: "fn", name: "factorial", args: [a] };
    }
    return a;
  }

  /** Argument of ^ or of a bare \frac/\sqrt: a braced group or one token (x^23 is x^2 * 3). */
  private scriptArg(): Node {
    const t = this.peek();
    if (t === undefined) throw new ParseError("missing argument");
    if (t.k === "op" && t.v === "{") return this.group();
    if (t.k === "op" && t.v === "-") {
      this.pos++;
      return { t: "neg", a: this.scriptArg() };
    }
    if (t.k === "num") {
      if (t.v.length > 1 && /^[0-9]/.test(t.v) && !t.v.includes(".") && !/[eE]/.test(t.v)) {
        // Split `23` into `2` now and `3` left for the caller's implicit product.
        this.toks[this.pos] = { k: "num", v: t.v.slice(1) };
        return { t: "num", v: t.v[0]! };
      }
      this.pos++;
      return { t: "num", v: t.v };
    }
    if (t.k === "id") {
      this.pos++;
      return this.ident(t.v);
    }
    if (t.k === "cmd") return this.primary();
    throw new ParseError("bad script argument");
  }

  private group(): Node {
    this.expect("{");
    this.enter();
    const e = this.expr();
    this.depth--;
    this.expect("}");
    return e;
  }

  private ident(v: string): Node {
    if (v === "e") return { t: "const", name: "e" };
    if (v === "i") return { t: "const", name: "i" };
    // Subscripted variables x_1 are distinct names.
    if (this.isOp("_")) {
      this.pos++;
      const s = this.peek();
      if (s === undefined) throw new ParseError("bad subscript");
      if (s.k === "num" || s.k === "id") {
        this.pos++;
        return { t: "var", name: `${v}_${s.v}` };
      }
      throw new ParseError("bad subscript");
    }
    return { t: "var", name: v };
  }

  private primary(): Node {
    const t = this.peek();
    if (t === undefined) throw new ParseError("unexpected end");
    this.enter();
    try {
      return this.primaryInner(t);
    } finally {
      this.depth--;
    }
  }

  private primaryInner(t: Tok): Node {
    if (t.k === "num") {
      this.pos++;
      if (this.isOp("_")) throw new ParseError("number in another base");
      // Mixed number 3\frac{1}{2} = 3 + 1/2 (integer parts only, as written in answers).
      if (/^[0-9]+$/.test(t.v) && this.isCmd("frac") && this.intGroupAt(1) && this.intGroupAt(4)) {
        this.pos++;
        const fr = { t: "div" as const, a: this.group(), b: this.group() };
        return { t: "add", a: { t: "num", v: t.v }, b: fr };
      }
      return { t: "num", v: t.v };
    }
    if (t.k === "id") {
      this.pos++;
      return this.ident(t.v);
    }
    if (t.k === "op") {
      if (t.v === "(" || t.v === "[") {
        this.pos++;
        const e = this.expr();
        this.expect(t.v === "(" ? ")" : "]");
        return e;
      }
      if (t.v === "{") return this.group();
      if (t.v === "|") {
        this.pos++;
        const e = this.expr();
        this.expect("|");
        return { t: "fn", name: "abs", args: [e] };
      }
      if (t.v === "lfloor" || t.v === "lceil") {
        this.pos++;
        const e = this.expr();
        this.expect(t.v === "lfloor" ? "rfloor" : "rceil");
        return { t: "fn", name: t.v === "lfloor" ? "floor" : "ceil", args: [e] };
      }
      throw new ParseError(`unexpected '${t.v}'`);
    }
    // Commands.
    this.pos++;
    switch (t.v) {
      case "pi":
        return { t: "const", name: "pi" };
      case "infty":
        return { t: "const", name: "inf" };
      case "frac":
      case "cfrac":
        return { t: "div", a: this.scriptArg(), b: this.scriptArg() };
      case "binom":
        return { t: "fn", name: "binom", args: [this.scriptArg(), this.scriptArg()] };
      case "sqrt": {
        if (this.isOp("[")) {
          this.pos++;
          const n = this.expr();
          this.expect("]");
          return { t: "fn", name: "nthroot", args: [this.scriptArg(), n] };
        }
        return { t: "fn", name: "sqrt", args: [this.scriptArg()] };
      }
    }
    if (FUNCS.has(t.v)) return this.func(t.v);
    throw new ParseError(`unknown command \\${t.v}`);
  }

  private intGroupAt(off: number): boolean {
    const a = this.peek(off);
    const b = this.peek(off + 1);
    const c = this.peek(off + 2);
    return (
      a?.k === "op" && a.v === "{" && b?.k === "num" && /^[0-9]+$/.test(b.v) && c?.k === "op" && c.v === "}"
    );
  }

  /** \sin x, \sin(2x), \sin^2 x, \log_2 8, \ln|x|. */
  private func(name: string): Node {
    let power: Node | null = null;
    let base: Node | null = null;
    for (let k = 0; k < 2; k++) {
      if (this.isOp("^")) {
        this.pos++;
        power = this.scriptArg();
      } else if (this.isOp("_")) {
        this.pos++;
        base = this.scriptArg();
      }
    }
    const trig = TRIG.has(name);
    if (trig) this.trigArg++;
    let arg: Node;
    try {
      if (this.isOp("(")) {
        this.pos++;
        const args = [this.expr()];
        while (this.isOp(",")) {
          this.pos++;
          args.push(this.expr());
        }
        this.expect(")");
        if (args.length > 1) {
          const f: Node = { t: "fn", name, args };
          return power ? { t: "pow", a: f, b: power } : f;
        }
        arg = args[0]!;
      } else {
        // Unparenthesised argument: a product of factors up to the next + or - (\sin 2x).
        arg = this.power();
        while (this.startsPrimary() && this.peek()?.k !== "cmd") {
          arg = { t: "mul", a: arg, b: this.power() };
        }
      }
    } finally {
      if (trig) this.trigArg--;
    }
    let f: Node;
    if (name === "log" && base !== null) f = { t: "fn", name: "logb", args: [arg, base] };
    else f = { t: "fn", name, args: [arg] };
    return power ? { t: "pow", a: f, b: power } : f;
  }
}

/** Work units per input character of parseLatex (work.ts). */
const PARSE_UNITS_PER_CHAR = 12;

/** Parses one normalised scalar answer; null when it is not a plain expression. */
export function parseLatex(s: string): Node | null {
  spend(PARSE_UNITS_PER_CHAR * s.length);
  try {
    return new Parser(tokenize(s)).parseAll();
  } catch {
    return null; // ParseError, or a RangeError from an input the caps did not foresee
  }
}

/** Names of the free variables of a tree. */
export function freeVars(n: Node, out: Set<string> = new Set()): Set<string> {
  const stack: Node[] = [n];
  while (stack.length > 0) {
    const x = stack.pop()!;
    switch (x.t) {
      case "var":
        out.add(x.name);
        break;
      case "neg":
      case "deg":
        stack.push(x.a);
        break;
      case "fn":
        stack.push(...x.args);
        break;
      case "num":
      case "const":
        break;
      default:
        stack.push(x.a, x.b);
    }
  }
  return out;
}

/** Whether some node of the tree satisfies `test` (iterative: trees may be deep). */
function someNode(n: Node, test: (x: Node) => boolean): boolean {
  const stack: Node[] = [n];
  while (stack.length > 0) {
    const x = stack.pop()!;
    if (test(x)) return true;
    if (x.t === "neg" || x.t === "deg") stack.push(x.a);
    else if (x.t === "fn") stack.push(...x.args);
    else if (x.t !== "num" && x.t !== "var" && x.t !== "const") stack.push(x.a, x.b);
  }
  return false;
}

/** Number of nodes of a tree (the cost of one numeric evaluation). */
export function nodeCount(n: Node): number {
  let count = 0;
  someNode(n, () => {
    count++;
    return false;
  });
  return count;
}

/** Whether the tree mentions \infty (such answers are only compared as text). */
export function hasInfinity(n: Node): boolean {
  return someNode(n, (x) => x.t === "const" && x.name === "inf");
}
