// String-level normalisation of a final answer, in the spirit of Hendrycks MATH `strip_string`:
// drop presentation (spaces, \left/\right, \text wrappers, units, \$, ^\circ, trailing period),
// unify spellings (\dfrac -> \frac, \frac12 -> \frac{1}{2}, 10,\!080 -> 10080). Every step is a
// linear scan or a regex without nested quantifiers, so no input can make it slow.

import { braceMatches, matchBrace } from "./braces.ts";

/** Longer answers are only trimmed and compared as strings (see equivalence.ts). */
export const MAX_STRUCTURED_LEN = 2000;

export interface Normalized {
  /** The normalised answer text. */
  text: string;
  /** A `%` was removed: the value may stand for itself or for itself / 100. */
  percent: boolean;
  /** The one-symbol left side `x=` removed from `x = …`, if any (an equation may need it back). */
  named?: string;
}

export function normalizeAnswer(s: string): string {
  return normalizeDetailed(s).text;
}

export function normalizeDetailed(input: unknown): Normalized {
  let s = typeof input === "string" ? input : String(input ?? "");
  // Digits on two lines are two statements, never one mixed number (11, then 5/6).
  const brokenLines = /\d[^\S\n]*\n\s*\d/.test(s);
  s = s.replace(/\s+/g, " ").trim();
  if (s.length > MAX_STRUCTURED_LEN) return { text: s, percent: false };

  // `\\frac`, `\\le`: a doubled escape (JSON, Python) rather than a line break and a word.
  if (!s.includes("\\begin")) s = s.replace(/\\\\(?=[a-zA-Z])/g, "\\");
  s = unwrapBox(s);
  s = unicodeToLatex(s);
  // Explicit thousands separators `10,\!080` (before `\!` goes away).
  s = s.replace(/,\\!\s*(?=\d{3}(?!\d))/g, "").replace(/\{\s*,\s*\}\s*(?=\d{3}(?!\d))/g, "");
  s = s
    .replace(/(?<!\\)\\(?:displaystyle|textstyle|!|,|;|:|quad|qquad)(?![a-zA-Z])/g, " ")
    .replace(/(?<!\\)\\ /g, " ")
    .replace(/~/g, " ");
  s = s.replace(/\\(?:left|right)\s*\.(?![0-9])/g, "");
  s = s.replace(/\\(?:left|right|bigl|bigr|Bigl|Bigr|big|Big)(?![a-zA-Z])/g, "");
  s = s.replace(/\\[dt]frac(?![a-zA-Z])/g, "\\frac").replace(/\\[dt]binom(?![a-zA-Z])/g, "\\binom");
  s = unifyRelations(s);
  // Degrees: one spelling, and a trailing one is dropped (90^\circ == 90).
  s = s.replace(/\^\s*\{\s*\\circ\s*\}|\^\s*\\circ(?![a-zA-Z])|\\degree(?![a-zA-Z])/g, "^\\circ");
  s = s.replace(/\\\$|\$/g, "");
  s = stripDelimiters(s.trim());
  let percent = false;
  if (s.includes("%")) {
    percent = true;
    s = s.replace(/\\%|%/g, "");
  }
  s = unwrapText(s);
  s = s.replace(/\s+/g, " ").trim();
  // Sentence punctuation after the answer: `\frac{1}{3}.`, `\frac{1}{3},` (not the `…` of a list).
  s = stripTrailingUnits(s.replace(/(?:\s*\.)+$|(?<![.,]\s*)\s*[,;]$/, ""));
  s = listWords(s);
  if (/\s(?:percent(?:age)?|pct)$/i.test(s)) {
    percent = true; // "28 percent", as a model writes it
    s = s.replace(/\s(?:percent(?:age)?|pct)$/i, "");
  }
  // A trailing degree sign is presentation, except as the argument of a trig function.
  if (!/\\(?:sin|cos|tan|cot|sec|csc)(?![a-zA-Z])/.test(s))
    s = s.replace(/(?:\^\\circ)+\s*\.?\s*$/, "").trim();
  s = s.replace(/(?:\s*\.)+$/, "").trim();
  if (!brokenLines) s = mixedNumber(s);
  // "32, 349" is two numbers; only "32,349" may be one with a thousands separator.
  const spacedComma = /,\s/.test(s);
  s = removeSpaces(s);
  s = s.replace(/(\d*)\.(\d*)\\overline\{(\d+)\}/g, repeatingDecimal);
  s = fixArgs(s);
  s = s.replace(/(^|[^\d])\.(\d)/g, "$10.$2");
  s = s.replace(/\+\\infty/g, "\\infty").replace(/_\{([a-zA-Z0-9])\}/g, "_$1");
  // `x \in [a,b]` and `x = 5`: the value is the answer (a one-symbol left side only).
  const lhs = /^(?:[a-zA-Z]|\\[a-zA-Z]+)(?:_\{?[a-zA-Z0-9]\}?)?(?:\\in(?![a-zA-Z])|=)(?=.)/.exec(s);
  let named: string | undefined;
  if (lhs && !s.includes("=", lhs[0].length)) {
    if (lhs[0].endsWith("=")) named = lhs[0].slice(0, -1);
    s = s.slice(lhs[0].length);
  }
  if (!spacedComma) s = numberSeparators(s);
  s = stripOuterBraces(s);
  // Multiple choice: (B), \text{(B)}, (\text{B}) all become B.
  const mc = /^\(([A-Z])\)$/.exec(s);
  if (mc) s = mc[1]!;
  return named === undefined ? { text: s, percent } : { text: s, percent, named };
}

/** One spelling per relation: \le \ge \ne < >. */
function unifyRelations(s: string): string {
  return s
    .replace(/\\(?:leq|leqslant)(?![a-zA-Z])|<=/g, "\\le ")
    .replace(/\\(?:geq|geqslant)(?![a-zA-Z])|>=/g, "\\ge ")
    .replace(/\\neq(?![a-zA-Z])|!=/g, "\\ne ")
    .replace(/\\lt(?![a-zA-Z])/g, "<")
    .replace(/\\gt(?![a-zA-Z])/g, ">");
}

/** A whole answer written as `\[ … \]` or `\( … \)` is its content. */
function stripDelimiters(s: string): string {
  const m = /^\\([[(])([\s\S]*)\\([\])])$/.exec(s);
  return m && (m[1] === "[") === (m[3] === "]") ? m[2]!.trim() : s;
}

/**
 * Words and separators that list answers become `;` (a list of solutions, each possibly a
 * comma-separated tuple of named values: `p = 5, q = 2 and p = 7, q = 2`). `;` inside a bracket
 * is a coordinate separator, as in `(0;-2;6)`.
 */
function listWords(s: string): string {
  s = s
    .replace(/(?<=\S) (?:and|or) (?=\S)/g, ";")
    .replace(/(?<=[)\]}])\s*(?:and|or)\s*(?=[([{\\])/g, ";")
    .replace(/\s*,\s*;\s*|\s*;\s*,\s*/g, ";");
  if (!s.includes(";")) return s;
  let depth = 0;
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === "(" || c === "[" || c === "{") depth++;
    else if (c === ")" || c === "]" || c === "}") depth--;
    out += c === ";" && depth > 0 ? "," : c;
  }
  return out;
}

/** `4 4/9` is 4 + 4/9 (a proper fraction after a whole number, as written in answers). */
function mixedNumber(s: string): string {
  const m = /^(-?)(\d+) (\d+)\/(\d+)$/.exec(s);
  if (m === null || Number(m[3]) >= Number(m[4]) || Number(m[4]) === 0) return s;
  const value = `${m[2]}+\\frac{${m[3]}}{${m[4]}}`;
  return m[1] === "-" ? `-(${value})` : value;
}

/**
 * A lone number with separators: `1,234,567` has thousands groups; `2,74`, `1000,99`, `0,111`
 * have a decimal comma (a comma before anything but a group of three digits after 1–3 leading
 * digits). `1,2` stays a list of two numbers.
 */
function numberSeparators(s: string): string {
  if (/^-?[1-9]\d{0,2}(?:,\d{3})+(?:\.\d+)?$/.test(s)) return s.replace(/,/g, "");
  if (/^-?\d+,\d{2,}$/.test(s)) return s.replace(",", ".");
  return s;
}

/** 1.2\overline{45} -> \frac{N}{D} exactly: N = 12345 - 123, D = 10^1 (10^2 - 1). */
function repeatingDecimal(_m: string, int: string, fixed: string, rep: string): string {
  const n = BigInt(int + fixed + rep) - BigInt(int + fixed || "0");
  const d = 10n ** BigInt(fixed.length) * (10n ** BigInt(rep.length) - 1n);
  return `\\frac{${n}}{${d}}`;
}

/** A full answer written as `\boxed{…}` is its content. */
function unwrapBox(s: string): string {
  for (const cmd of ["\\boxed", "\\fbox"]) {
    const i = s.lastIndexOf(cmd);
    if (i < 0) continue;
    let j = i + cmd.length;
    while (s[j] === " ") j++;
    if (s[j] !== "{") continue;
    const end = matchBrace(s, j);
    if (end > 0) return s.slice(j + 1, end - 1).trim();
  }
  return s;
}

function unicodeToLatex(s: string): string {
  return s
    .replace(/\u2212|\u2013|\u2014/g, "-")
    .replace(/\u00d7/g, "\\times ")
    .replace(/\u00b7|\u22c5/g, "\\cdot ")
    .replace(/\u00f7/g, "\\div ")
    .replace(/\u03c0/g, "\\pi ")
    .replace(/\u221e/g, "\\infty ")
    .replace(/\u221a/g, "\\sqrt")
    .replace(/\u00b0/g, "^\\circ")
    .replace(/\u00b1/g, "\\pm ")
    .replace(/\u2264/g, "\\le ")
    .replace(/\u2265/g, "\\ge ")
    .replace(/\u2260/g, "\\ne ")
    .replace(/\u00b2/g, "^2")
    .replace(/\u00b3/g, "^3")
    .replace(/[\u20ac\u00a3\u00a5]/g, " "); // currency signs: € £ ¥
}

const TEXT_CMDS = /\\(?:text|textrm|textbf|textit|textnormal|mbox|mathrm|mathbf|mathit|textup|hbox)\s*\{/g;

/** `\text{…}`-like wrappers: a trailing unit is dropped, anything else keeps its content. */
function unwrapText(s: string): string {
  // Pathological inputs with very many wrappers: drop the command names only (linear).
  const count = s.match(TEXT_CMDS)?.length ?? 0;
  if (count === 0) return s;
  if (count > 50) return s.replace(TEXT_CMDS, "{");
  for (let k = 0; k < count; k++) {
    TEXT_CMDS.lastIndex = 0;
    const m = TEXT_CMDS.exec(s);
    if (m === null) break;
    const open = m.index + m[0].length - 1;
    const end = matchBrace(s, open);
    if (end < 0) return s.replace(TEXT_CMDS, "{");
    const content = s.slice(open + 1, end - 1);
    const before = s.slice(0, m.index);
    let after = s.slice(end);
    const word = content.trim();
    let replacement = content;
    const tail = /^\s*(?:\^\s*\{?\s*[23]\s*\}?)?\s*\.?\s*$/.exec(after);
    if (tail && before.trim() !== "" && /^[a-zA-Z][a-zA-Z .]*$/.test(word) && !/\\pm\s*$/.test(before)) {
      replacement = ""; // a unit such as `\text{ cm}^2` after a value
      after = "";
    } else if (/^(?:and|or)$/i.test(word) && before.trim() !== "" && after.trim() !== "") {
      replacement = ";"; // `1 \text{ and } 2` is a list
    }
    s = before + replacement + after;
  }
  return s;
}

const NOT_UNITS = new Set([
  "pi",
  "sin",
  "cos",
  "tan",
  "cot",
  "sec",
  "csc",
  "log",
  "ln",
  "exp",
  "sqrt",
  "infty",
  "and",
  "or",
  "i",
]);

// Two-letter words taken as units; longer words after a value are units unless listed above.
const SHORT_UNITS = new Set(["cm", "mm", "km", "ft", "kg", "lb", "oz", "mi", "yd", "hr", "sq", "ml", "mg"]);

/** Plain unit words after a number: `20 days`, `5 sq units`, `7 cm^2`. */
function stripTrailingUnits(s: string): string {
  const sq = /\s*\^\s*\{?\s*[23]\s*\}?\s*$/.exec(s);
  let e = sq ? sq.index : s.length;
  let cut = -1;
  for (;;) {
    let j = e;
    while (j > 0 && s[j - 1] === " ") j--;
    let k = j;
    while (k > 0 && /[a-zA-Z]/.test(s[k - 1]!)) k--;
    const word = s.slice(k, j).toLowerCase();
    const prev = s[k - 1];
    const unitLike = word.length >= 3 ? !NOT_UNITS.has(word) : SHORT_UNITS.has(word);
    if (!unitLike || prev === undefined || (prev !== " " && !/[0-9]/.test(prev))) break;
    cut = k;
    e = k;
  }
  if (cut < 0) return s;
  const rest = s.slice(0, cut).trim();
  // Only after a value: a digit, a closing group, or a closing parenthesis.
  return /[0-9})]$/.test(rest) ? rest : s;
}

/** Removes spaces, except one after a command name that a letter follows (`\cot x`). */
function removeSpaces(s: string): string {
  return s.replace(/(\\[a-zA-Z]+) +(?=[a-zA-Z])| +/g, (_m, cmd: string | undefined) =>
    cmd === undefined ? "" : `${cmd} `,
  );
}

/** Braces the bare arguments of \frac, \binom and \sqrt: \frac12 -> \frac{1}{2}, \sqrt2 -> \sqrt{2}. */
function fixArgs(s: string): string {
  if (!/\\(?:frac|binom|sqrt)/.test(s)) return s;
  const match = braceMatches(s);
  const wraps: Array<[number, number]> = [];
  const re = /\\(frac|binom|sqrt)(?![a-zA-Z])/g;
  for (let m = re.exec(s); m !== null; m = re.exec(s)) {
    let i = m.index + m[0].length;
    if (m[1] === "sqrt") {
      while (s[i] === " ") i++;
      if (s[i] === "[") {
        const close = s.indexOf("]", i);
        if (close < 0) continue;
        i = close + 1;
      }
    }
    for (let nargs = m[1] === "sqrt" ? 1 : 2; nargs > 0; nargs--) {
      while (s[i] === " ") i++;
      const c = s[i];
      if (c === "{") {
        const close = match[i]!;
        if (close < 0) break;
        i = close + 1;
      } else if (c === "\\") {
        const cm = /^\\[a-zA-Z]+/.exec(s.slice(i, i + 40));
        if (cm === null) break;
        wraps.push([i, i + cm[0].length]);
        i += cm[0].length;
      } else if (c !== undefined && /[0-9a-zA-Z]/.test(c)) {
        wraps.push([i, i + 1]);
        i++;
      } else {
        break;
      }
    }
  }
  if (wraps.length === 0) return s;
  wraps.sort((x, y) => x[0] - y[0]);
  let out = "";
  let at = 0;
  for (const [a, b] of wraps) {
    if (a < at) continue;
    out += `${s.slice(at, a)}{${s.slice(a, b)}}`;
    at = b;
  }
  return out + s.slice(at);
}

/** `{5}` -> `5` when the braces enclose the whole answer. */
function stripOuterBraces(s: string): string {
  for (let k = 0; k < 10 && s.startsWith("{") && matchBrace(s, 0) === s.length; k++) {
    s = s.slice(1, -1).trim();
  }
  return s;
}
