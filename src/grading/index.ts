// Public grading API: what evaluation and RL rewards call. Nothing here throws, whatever the
// strings: a failure anywhere means "not equal".

import { type EquivalenceOptions, isEquivalent } from "./equivalence.ts";
import { type ExtractMode, extractAnswer, goldAnswer } from "./extract.ts";
import { normalizeAnswer } from "./normalize.ts";

export { type EquivalenceOptions, isEquivalent } from "./equivalence.ts";
export { EXTRACT_MODES, type ExtractMode, extractAnswer, goldAnswer, isExtractMode } from "./extract.ts";
export { normalizeAnswer } from "./normalize.ts";

/** The one grader shape, for rewards and evaluation: the extracted final answer (null when none
 *  was found) and whether it is equivalent to the reference. */
export type Grader = (response: string, gold: string) => { answer: string | null; correct: boolean };

export interface GradeResult {
  equal: boolean;
  predNorm: string;
  goldNorm: string;
}

export interface ResponseGrade extends GradeResult {
  /** The answer extracted from the response, null when none was found. */
  extracted: string | null;
}

/** Strings as they are, numbers as written; anything else (objects, symbols, null) is "". */
function asText(x: unknown): string {
  if (typeof x === "string") return x;
  if (typeof x === "number" || typeof x === "bigint" || typeof x === "boolean") return String(x);
  return "";
}

function safeNormalize(s: string): string {
  try {
    return normalizeAnswer(s);
  } catch {
    return "";
  }
}

/** Compares a predicted final answer with the gold one. */
export function gradeAnswer(pred: string, gold: string, opts: EquivalenceOptions = {}): GradeResult {
  const p = asText(pred);
  const g = asText(gold);
  return { equal: isEquivalent(p, g, opts), predNorm: safeNormalize(p), goldNorm: safeNormalize(g) };
}

/**
 * Extracts the final answer from a full response (default: auto) and the gold answer from the
 * reference with the same pipeline (`$…$`, `\boxed{}`, "The answer is" wrappers fall away on
 * both sides), then compares them.
 */
export function gradeResponse(
  responseText: string,
  gold: string,
  opts: EquivalenceOptions & { mode?: ExtractMode } = {},
): ResponseGrade {
  const extracted = extractAnswer(asText(responseText), opts?.mode ?? "auto");
  const g = goldAnswer(asText(gold));
  if (extracted === null) return { equal: false, predNorm: "", goldNorm: safeNormalize(g), extracted };
  return { ...gradeAnswer(extracted, g, opts ?? {}), extracted };
}
