// External rewards: answer correctness (RLVR) through a grader, and an optional format reward.

import type { RewardContext, SampledResponse } from "./types.ts";

/** correctness: 1 if the grader finds the final answer equivalent to the reference, else 0.
 *  null when there is no reference answer or no grader (the reward is then only unavailable,
 *  which matters only if it is trained on). */
export function correctness(r: SampledResponse, ctx: RewardContext): number | null {
  if (r.gold === undefined || !ctx.grade) return null;
  if (r.responseIds.length === 0) return 0;
  return ctx.grade(r.responseText, r.gold).correct ? 1 : 0;
}

/** Index just after the brace that closes the one opening at `open`, or -1 if unbalanced. */
function closingBrace(s: string, open: number): number {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    if (s[i] === "{") depth++;
    else if (s[i] === "}" && --depth === 0) return i + 1;
  }
  return -1;
}

/** format: 1 if the response states a final answer as \boxed{…} (balanced braces, non-blank
 *  content), else 0. */
export function format(r: SampledResponse): number {
  const s = r.responseText;
  for (let i = s.indexOf("\\boxed{"); i >= 0; i = s.indexOf("\\boxed{", i + 1)) {
    const open = i + "\\boxed".length;
    const end = closingBrace(s, open);
    if (end > 0 && s.slice(open + 1, end - 1).trim() !== "") return 1;
  }
  return 0;
}
