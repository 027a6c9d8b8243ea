// Where an answer sits in free text that names none: the math segments ($…$, $$…$$, \(…\),
// \[…\]) and the standalone numbers of the text, and whether the text is prose at all. Every
// scan is linear (each search position is cached), so no input can make it slow.

export interface Span {
  start: number;
  end: number; // just past the closing delimiter
  body: string;
  /** An inline segment whose closing delimiter is on a later line: malformed, not an answer. */
  broken: boolean;
}

/** Only the end of a very long response is searched for its last statement. */
export const MAX_SCAN = 20_000;

/** Next index of `needle` at or after `from`, with the last search cached (keeps scans linear). */
function finder(text: string, needle: string): (from: number) => number {
  let cachedFrom = -1;
  let cachedAt = -1;
  return (from) => {
    if (cachedFrom >= 0 && from >= cachedFrom && (cachedAt < 0 || from <= cachedAt)) return cachedAt;
    cachedFrom = from;
    cachedAt = text.indexOf(needle, from);
    return cachedAt;
  };
}

/** Index of the next `$` that is not escaped (`\$`), or -1. */
function nextDollar(text: string, from: number): number {
  for (let i = from; i < text.length; i++) {
    if (text[i] === "\\") i++;
    else if (text[i] === "$") return i;
  }
  return -1;
}

/** The math segments of a text, in order. */
export function mathSegments(text: string): Span[] {
  const out: Span[] = [];
  const newline = finder(text, "\n");
  const closers = { "(": finder(text, "\\)"), "[": finder(text, "\\]"), $$: finder(text, "$$") };
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === "\\" && (text[i + 1] === "(" || text[i + 1] === "[")) {
      const kind = text[i + 1] as "(" | "[";
      const close = closers[kind](i + 2);
      if (close < 0) {
        i += 2;
        continue;
      }
      const nl = newline(i + 2);
      const broken = kind === "(" && nl >= 0 && nl < close;
      out.push({ start: i, end: close + 2, body: text.slice(i + 2, close), broken });
      i = close + 2;
    } else if (c === "\\") {
      i += 2; // an escaped character such as \$ or a command's backslash
    } else if (c === "$" && text[i + 1] === "$") {
      const close = closers.$$(i + 2);
      if (close < 0) {
        i += 2;
        continue;
      }
      out.push({ start: i, end: close + 2, body: text.slice(i + 2, close), broken: false });
      i = close + 2;
    } else if (c === "$") {
      const close = nextDollar(text, i + 1);
      if (close < 0) break; // a lone `$` (a currency sign) and nothing after it pairs
      const nl = newline(i + 1);
      out.push({ start: i, end: close + 1, body: text.slice(i + 1, close), broken: nl >= 0 && nl < close });
      i = close + 1;
    } else {
      i++;
    }
  }
  return out;
}

// A number not glued to a word before it (`AZYUK2A` holds none; `72Mb` is 72 and a unit):
// thousands groups, decimals with a point or a comma, a simple fraction `a/b`.
const NUMBER = /(?<![\w.\\])-?(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:[.,]\d+)?(?:\/\d+)?|\.\d+)/g;

interface Found {
  start: number;
  text: string;
}

/** Numbers outside the given segments (a number inside a malformed segment is not an answer). */
function numbersOutside(text: string, segs: Span[]): Found[] {
  const out: Found[] = [];
  let from = 0;
  for (const gap of [...segs, null]) {
    const to = gap === null ? text.length : gap.start;
    const part = text.slice(from, to);
    NUMBER.lastIndex = 0;
    for (let m = NUMBER.exec(part); m !== null; m = NUMBER.exec(part)) {
      out.push({ start: from + m.index, text: m[0] });
    }
    if (gap !== null) from = gap.end;
  }
  return out;
}

// Words that may stand next to an answer without making the text prose; and two-letter words
// that make it prose (other pairs of letters, `ab`, `xy`, are algebra).
const ANSWER_WORDS = new Set(["and", "or", "pct", "percent", "percentage"]);
const SHORT_PROSE = new Set(
  "so is it we of to in as at be by if on an my me no do go he us up am".split(" "),
);

/**
 * Whether the text is an answer rather than prose: outside math segments, LaTeX commands and
 * `\text{…}`, no word of three or more letters other than "and", "or" and percent words, and
 * no two-letter English word ("so", "is").
 */
export function isAnswerLike(text: string): boolean {
  if (text.length > 2000) return false;
  let outside = "";
  let from = 0;
  for (const s of mathSegments(text)) {
    if (s.broken) return false;
    outside += ` ${text.slice(from, s.start)} `;
    from = s.end;
  }
  outside += text.slice(from);
  const words = outside
    .replace(/\\(?:text|textrm|textbf|textnormal|mbox|mathrm)\s*\{[^{}]*\}/g, " ")
    .replace(/\\[a-zA-Z]+/g, " ")
    .match(/[a-zA-Z]{2,}/g);
  return (
    words === null ||
    words.every((w) => {
      const lw = w.toLowerCase();
      return w.length === 2 ? !SHORT_PROSE.has(lw) : ANSWER_WORDS.has(lw);
    })
  );
}

/**
 * The last statement of a text that marks no answer: its last math segment or its last
 * standalone number, whichever comes later. With `single`, only a text holding exactly one such
 * candidate gives an answer (used inside an answer sentence, where two would be a guess).
 */
export function lastStatement(text: string, single = false): string | null {
  const t = text.length > MAX_SCAN ? text.slice(-MAX_SCAN) : text;
  // A broken inline segment hides its numbers when it holds math (`$ \n 9 \n $`); when it
  // holds prose, its `$` were currency signs (`20 $ to Jack.\n… 120$`) and it hides nothing.
  const all = mathSegments(t).filter((s) => !s.broken || isAnswerLike(s.body));
  const segs = all.filter((s) => !s.broken && s.body.trim() !== "");
  const nums = numbersOutside(t, all);
  if (single && segs.length + nums.length !== 1) return null;
  const seg = segs.at(-1);
  const num = nums.at(-1);
  if (num !== undefined && (seg === undefined || num.start >= seg.end)) return num.text;
  return seg === undefined ? null : seg.body.trim();
}
