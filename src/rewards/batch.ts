// Rewards computed over the whole batch at once (they need the other responses to the same
// prompt, or the response's place in the batch): majority-vote (TTRL), semantic-entropy (EMPO)
// and random (the spurious-reward control). The pure formulas are in group-rewards.ts.

import { groupMembers } from "../util/groups.ts";
import {
  type AnswerEquivalence,
  majorityVote,
  randomReward,
  semanticClusterShare,
  VOTE_TIES,
  type VoteTie,
} from "./group-rewards.ts";
import type { BatchRewardFn, RewardContext, RewardOptions, SampledResponse } from "./types.ts";

function checkOptions(name: string, options: RewardOptions, valid: readonly string[]): void {
  for (const k of Object.keys(options))
    if (!valid.includes(k))
      throw new Error(`${name}: unknown option "${k}" (valid: ${valid.length ? valid.join(", ") : "none"})`);
}

/** Applies a per-group rule to the groups' extracted answers; null everywhere without a grader. */
function perGroup(
  rollouts: readonly SampledResponse[],
  ctx: RewardContext,
  rule: (answers: (string | null)[], equal: AnswerEquivalence) => Float64Array,
): (number | null)[] {
  const { answerOf, equivalent } = ctx;
  if (!answerOf || !equivalent) return rollouts.map(() => null);
  const out = new Array<number>(rollouts.length).fill(0);
  for (const idx of groupMembers(rollouts.map((r) => r.group))) {
    const r = rule(
      idx.map((i) => answerOf(rollouts[i].responseText)),
      equivalent,
    );
    idx.forEach((i, j) => {
      out[i] = r[j];
    });
  }
  return out;
}

/**
 * majority-vote: 1 when the response's final answer is equivalent to the most common answer of
 * its group, else 0. Option `tie`: "first" (default; the tied answer seen first wins, as TTRL's
 * Counter.most_common) or "none" (a tie gives every response 0). Responses without an answer get
 * 0 and do not vote. To vote on more samples than are trained on, sample them into the group and
 * drop them after scoring (rollout.vote_extra).
 */
export const majorityVoteReward: BatchRewardFn = (rollouts, ctx, options) => {
  checkOptions("majority-vote", options, ["tie"]);
  const tie = (options.tie ?? "first") as VoteTie;
  if (!VOTE_TIES.includes(tie))
    throw new Error(
      `majority-vote: option tie must be one of ${VOTE_TIES.join(", ")}, got ${JSON.stringify(tie)}`,
    );
  return perGroup(rollouts, ctx, (answers, equal) => majorityVote(answers, equal, { tie }).rewards);
};

/** semantic-entropy: the share of the group whose final answer is equivalent to this response's
 *  (EMPO); 0 without an answer. */
export const semanticEntropyReward: BatchRewardFn = (rollouts, ctx, options) => {
  checkOptions("semantic-entropy", options, []);
  return perGroup(rollouts, ctx, (answers, equal) => semanticClusterShare(answers, equal).rewards);
};

/** random: Bernoulli(p) (option `p`, default 0.5) per response, drawn from (seed, step, index in
 *  the batch) and independent of the response; null when the context has no seed or step. */
export const randomControlReward: BatchRewardFn = (rollouts, ctx, options) => {
  checkOptions("random", options, ["p"]);
  const p = options.p ?? 0.5;
  if (typeof p !== "number") throw new Error(`random: option p must be a number, got ${JSON.stringify(p)}`);
  const { seed, step } = ctx;
  if (seed === undefined || step === undefined) return rollouts.map(() => null);
  return rollouts.map((_, i) => randomReward(seed, step, i, p));
};
