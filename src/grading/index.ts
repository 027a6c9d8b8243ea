// Public grading API: what evaluation and RL rewards call. Nothing here throws, whatever the
// strings: a failure anywhere means "not equal".

import { type EquivalenceOptions, equivalenceWork } from "./equivalence.ts";
import { type ExtractMode, extractAnswer, goldAnswer } from "./extract.ts";
import { normalizeAnswer } from "./normalize.ts";

export {
  type EquivalenceOptions,
  equivalenceWork,
  isEquivalent,
  type MeteredVerdict,
} from "./equivalence.ts";
export { EXTRACT_MODES, type ExtractMode, extractAnswer, goldAnswer, isExtractMode } from "./extract.ts";
export { normalizeAnswer } from "./normalize.ts";
export { DEFAULT_WORK_BUDGET } from "./work.ts";

/** The one grader shape, for rewards and evaluation: the extracted final answer (null when none
 *  was found) and whether it is equivalent to the reference. */
export type Grader = (response: string, gold: string) => { answer: string | null; correct: boolean };

export interface GradeResult {
  equal: boolean;
  predNorm: string;
  goldNorm: string;
  /** Work units the comparison spent (work.ts); it is the same on every machine. */
  work: number;
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
  const v = equivalenceWork(p, g, opts);
  return { equal: v.equal, predNorm: safeNormalize(p), goldNorm: safeNormalize(g), work: v.used };
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
  if (extracted === null)
    return { equal: false, predNorm: "", goldNorm: safeNormalize(g), work: 0, extracted };
  return { ...gradeAnswer(extracted, g, opts ?? {}), extracted };
}
