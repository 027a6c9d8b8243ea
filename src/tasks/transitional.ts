// Transitional ("reflection") words: the spec's default list and the rate metric.
//
// Counting rules (rlif-spec.md: case-insensitive, whole words), made precise:
// - A match must not touch a letter, digit, apostrophe or hyphen on either side, so "check" does
//   not count inside "checked", "recheck" or "double-check", and "wait" not in "waiting".
// - Entries are matched longest first and a matched span is consumed: "let me check" counts once,
//   not also as "check"; "double-check" counts once, not also as "check".
// - Words inside a phrase may be separated by any run of whitespace ("let  me\ncheck" matches).
// - The rate is occurrences per 100 words, where a word is a run of letters/digits, optionally
//   joined by apostrophes or hyphens ("double-check", "don't" and "17" are one word each; "+" none).

export const DEFAULT_TRANSITIONAL_WORDS: readonly string[] = [
  "wait",
  "but",
  "however",
  "alternatively",
  "actually",
  "hmm",
  "check",
  "verify",
  "recheck",
  "double-check",
  "let me check",
  "let me verify",
  "on second thought",
  "instead",
  "mistake",
];

/**
 * The subset that signals re-examining one's own work. Generic connectives ("but", "however",
 * "instead", "alternatively") also occur in plain prose, so they alone do not make a reflection.
 */
export const REFLECTION_MARKERS: readonly string[] = [
  "wait",
  "hmm",
  "actually",
  "check",
  "verify",
  "recheck",
  "double-check",
  "let me check",
  "let me verify",
  "on second thought",
  "mistake",
];

const WORD_CHAR = "[\\p{L}\\p{N}'\\u2019-]";
const WORD = /[\p{L}\p{N}]+(?:['\u2019-][\p{L}\p{N}]+)*/gu;

const patternCache = new Map<string, RegExp>();

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function patternFor(words: readonly string[]): RegExp {
  const key = words.join("\u0000");
  let re = patternCache.get(key);
  if (!re) {
    const entries = words.map((w) => w.trim().toLowerCase()).filter((w) => w.length > 0);
    if (entries.length === 0) throw new Error("transitional word list is empty");
    // Longest first: the regex alternation takes the first alternative that matches at a position.
    const sorted = [...new Set(entries)].sort((a, b) => b.length - a.length);
    const body = sorted.map((w) => w.split(/\s+/).map(escapeRegExp).join("\\s+")).join("|");
    re = new RegExp(`(?<!${WORD_CHAR})(?:${body})(?!${WORD_CHAR})`, "giu");
    patternCache.set(key, re);
  }
  re.lastIndex = 0;
  return re;
}

/** Number of occurrences of the listed words/phrases in `text` (rules above). */
export function countTransitional(
  text: string,
  words: readonly string[] = DEFAULT_TRANSITIONAL_WORDS,
): number {
  const re = patternFor(words);
  let n = 0;
  while (re.exec(text) !== null) n++;
  return n;
}

/** Number of words in `text` (runs of letters/digits, joined by apostrophes or hyphens). */
export function countWords(text: string): number {
  return text.match(WORD)?.length ?? 0;
}

/** Occurrences of the listed words per 100 words of `text`; 0 for a text without words. */
export function transitionalRate(
  text: string,
  words: readonly string[] = DEFAULT_TRANSITIONAL_WORDS,
): number {
  const total = countWords(text);
  return total === 0 ? 0 : (100 * countTransitional(text, words)) / total;
}

/** Whether `text` contains at least one reflection marker (a re-check of its own work). */
export function hasReflection(text: string): boolean {
  return countTransitional(text, REFLECTION_MARKERS) > 0;
}
