// Final-answer extraction from a model response. Every mode is a linear scan (no backtracking
// regexes over the whole response), so arbitrarily long or malformed text cannot hang it.

import { braceMatches } from "./braces.ts";

export const EXTRACT_MODES = ["boxed", "fbox", "answer-is", "gsm8k", "last-number", "auto"] as const;
export type ExtractMode = (typeof EXTRACT_MODES)[number];

export function isExtractMode(s: string): s is ExtractMode {
  return (EXTRACT_MODES as readonly string[]).includes(s);
}

/** Extracts the final answer from `text` with the given mode; null when nothing is found. */
export function extractAnswer(text: string, mode: ExtractMode = "auto"): string | null {
  if (typeof text !== "string" || text.length === 0) return null;
  try {
    switch (mode) {
      case "boxed":
        return lastBoxed(text, ["\\boxed"]);
      case "fbox":
        return lastBoxed(text, ["\\fbox"]);
      case "answer-is":
        return answerIs(text);
      case "gsm8k":
        return gsm8k(text);
      case "last-number":
        return lastNumber(text);
      case "auto":
        // Most explicit markers first; the last-number fallback only when nothing is marked.
        return (
          lastBoxed(text, ["\\boxed", "\\fbox"]) ?? gsm8k(text) ?? answerIs(text) ?? lastNumber(text) ?? null
        );
      default:
        return null;
    }
  } catch {
    return null;
  }
}

/** Content of the last well-formed `\boxed{…}` / `\boxed x` (or other given commands). */
function lastBoxed(text: string, commands: string[]): string | null {
  let end = text.length;
  let match: Int32Array | null = null; // computed once, only if a box is found
  // Last known position of each command; a command that is absent is never searched again
  // (keeps many malformed boxes linear rather than quadratic).
  const at = commands.map((cmd) => text.lastIndexOf(cmd));
  while (end > 0) {
    let best = -1;
    let bestCmd = "";
    for (let k = 0; k < commands.length; k++) {
      if (at[k]! >= end) at[k] = end > 0 ? text.lastIndexOf(commands[k]!, end - 1) : -1;
      if (at[k]! > best) {
        best = at[k]!;
        bestCmd = commands[k]!;
      }
    }
    if (best < 0) return null;
    match ??= braceMatches(text);
    const got = boxContent(text, best + bestCmd.length, match);
    if (got !== null && got.trim() !== "") return got.trim();
    end = best; // malformed or empty box: try the one before it
  }
  return null;
}

function boxContent(text: string, at: number, match: Int32Array): string | null {
  const next = text[at];
  // `\boxedx` is another command name, not a box.
  if (next === undefined || /[a-zA-Z]/.test(next)) return null;
  let i = at;
  while (i < text.length && (text[i] === " " || text[i] === "\t")) i++;
  if (text[i] === "{") {
    const close = match[i]!;
    return close < 0 ? null : text.slice(i + 1, close);
  }
  // `\boxed 5` / `\boxed5`: models mean everything up to the next `$`, newline or end.
  let j = i;
  while (j < text.length && text[j] !== "$" && text[j] !== "\n") j++;
  const arg = text.slice(i, j).trim();
  return arg.replace(/[.,;]$/, "");
}

const ANSWER_IS = /(?:final answer|the answer|answer)\s*(?:is|:)\s*:?/gi;

/** Text after the last "The answer is" / "Final answer:" up to the end of its sentence. */
function answerIs(text: string): string | null {
  let last: RegExpExecArray | null = null;
  ANSWER_IS.lastIndex = 0;
  for (let m = ANSWER_IS.exec(text); m !== null; m = ANSWER_IS.exec(text)) last = m;
  if (last === null) return null;
  let rest = text.slice(last.index + last[0].length);
  const nl = rest.indexOf("\n");
  if (nl >= 0 && rest.slice(0, nl).trim() !== "") rest = rest.slice(0, nl);
  rest = rest.trim();
  const boxed = lastBoxed(rest, ["\\boxed", "\\fbox"]);
  if (boxed !== null) return boxed;
  // A math segment right after the marker: take its inside.
  for (const [open, close] of [
    ["$$", "$$"],
    ["$", "$"],
    ["\\(", "\\)"],
    ["\\[", "\\]"],
  ] as const) {
    if (rest.startsWith(open)) {
      const j = rest.indexOf(close, open.length);
      if (j > open.length) return rest.slice(open.length, j).trim();
    }
  }
  // Plain text: cut at a sentence end (a period followed by a space or the end, not a decimal point).
  const stop = rest.search(/\.(\s|$)/);
  if (stop >= 0) rest = rest.slice(0, stop);
  rest = rest.replace(/\*\*/g, "").trim();
  return rest === "" ? null : rest;
}

/** GSM8K reference style: the rest of the line after the last `####`. */
function gsm8k(text: string): string | null {
  const i = text.lastIndexOf("####");
  if (i < 0) return null;
  let rest = text.slice(i + 4);
  const nl = rest.indexOf("\n");
  if (nl >= 0) rest = rest.slice(0, nl);
  rest = rest.trim().replace(/\.$/, "").trim();
  return rest === "" ? null : rest;
}

// A number with optional sign, thousands groups, decimals and a simple `/d` fraction part.
const NUMBER = /-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:\/\d+)?|-?\.\d+/g;

/** The last number in the text (thousands separators kept; the normaliser removes them). */
function lastNumber(text: string): string | null {
  let last: string | null = null;
  NUMBER.lastIndex = 0;
  for (let m = NUMBER.exec(text); m !== null; m = NUMBER.exec(text)) last = m[0];
  return last;
}
