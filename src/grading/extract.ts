// Final-answer extraction from a model response. Every mode is a linear scan (no backtracking
// regexes over the whole response), so arbitrarily long or malformed text cannot hang it.

import { boxedAnswer, lastBoxGroup } from "./boxes.ts";
import { isAnswerLike, lastStatement } from "./segments.ts";

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
        return boxedAnswer(text, ["boxed"]);
      case "fbox":
        return boxedAnswer(text, ["fbox"]);
      case "answer-is":
        return answerIs(text);
      case "gsm8k":
        return gsm8k(text);
      case "last-number":
        return lastNumber(text);
      case "auto":
        // Most explicit markers first; then the text itself when it is an answer, not prose;
        // then its last statement (last math segment or number).
        return markedAnswer(text) ?? wholeOrLast(text);
      default:
        return null;
    }
  } catch {
    return null;
  }
}

/**
 * The answer of a gold (reference) text, parsed like a response so that `$…$`, `\boxed{…}`,
 * `#### …` or "The answer is …" wrappers fall away; a gold in prose with no marker is kept
 * whole (no number is picked out of a reference).
 */
export function goldAnswer(text: string): string {
  if (typeof text !== "string" || text.length === 0) return "";
  try {
    return markedAnswer(text) ?? text;
  } catch {
    return text;
  }
}

/**
 * The answer a text marks: its last box, `####` line or "The answer is" sentence. A box wins
 * over `####`; an answer sentence written after the last box restates the answer and wins when
 * it holds one ("… so our answer is correct." does not).
 */
function markedAnswer(text: string): string | null {
  const box = lastBoxGroup(text);
  if (box !== null) {
    const after = text.slice(box.end);
    const later = lastMarker(after) === null ? null : answerIs(after);
    return later !== null && isAnswerLike(later) ? later : box.answer;
  }
  return gsm8k(text) ?? answerIs(text);
}

function wholeOrLast(text: string): string | null {
  const t = text.trim();
  if (t !== "" && isAnswerLike(t)) return t;
  return lastStatement(t);
}

const ANSWER_IS = /(?:final answer|the answer|answer)\s*(?:is|:)\s*:?/gi;

function lastMarker(text: string): RegExpExecArray | null {
  let last: RegExpExecArray | null = null;
  ANSWER_IS.lastIndex = 0;
  for (let m = ANSWER_IS.exec(text); m !== null; m = ANSWER_IS.exec(text)) last = m;
  return last;
}

/** Text after the last "The answer is" / "Final answer:" up to the end of its sentence. */
function answerIs(text: string): string | null {
  const last = lastMarker(text);
  if (last === null) return null;
  let rest = text.slice(last.index + last[0].length);
  const nl = rest.indexOf("\n");
  if (nl >= 0 && rest.slice(0, nl).trim() !== "") rest = rest.slice(0, nl);
  rest = rest.trim();
  const boxed = boxedAnswer(rest);
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
  // Bold and quotes around the answer are presentation: **7**, "$12$ and $13$".
  rest = rest
    .replace(/\*\*/g, "")
    .replace(/^(?:\\?["'\u201c])+|(?:\\?["'\u201d])+$/g, "")
    .trim();
  if (rest === "") return null;
  return isAnswerLike(rest) ? rest : answerInSentence(rest);
}

/**
 * The answer inside a sentence after an answer marker ("The largest $n$ is 34"): what follows
 * its last "is"/"are", else the one number or math segment it holds; with two, it stays as it
 * is (a guess between them would be a false positive waiting to happen).
 */
function answerInSentence(rest: string): string {
  const is = /\s(?:is|are|equals|was)\s/g;
  let at = -1;
  for (let m = is.exec(rest); m !== null; m = is.exec(rest)) at = m.index + m[0].length;
  const tail = at >= 0 ? rest.slice(at).trim() : rest;
  if (tail !== rest && isAnswerLike(tail)) return tail;
  return lastStatement(tail, true) ?? rest;
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
