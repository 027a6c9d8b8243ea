// Rewards that need the whole group of responses to a prompt (or the response's place in the
// batch), not one response alone: TTRL's majority vote, EMPO's semantic-cluster share, and the
// random (spurious-reward) control. Pure functions of the extracted answers and an equivalence;
// rewards/compute.ts feeds them the grader's extraction and equivalence.

/** Decides whether two extracted final answers mean the same (the grader's equivalence). */
export type AnswerEquivalence = (a: string, b: string) => boolean;

export interface AnswerClusters {
  /** Cluster of each answer (first-seen order), −1 for a missing answer (null). */
  cluster: Int32Array;
  /** Members per cluster. */
  sizes: number[];
}

/**
 * Groups answers into clusters of equivalent ones. An answer joins the first cluster whose first
 * member it is equivalent to (the grader's equivalence need not be transitive, so the cluster's
 * first answer decides); identical strings are equivalent without asking. A missing answer
 * (null: nothing was extracted) belongs to no cluster.
 */
export function clusterAnswers(
  answers: readonly (string | null)[],
  equal: AnswerEquivalence,
): AnswerClusters {
  const cluster = new Int32Array(answers.length).fill(-1);
  const heads: string[] = [];
  const sizes: number[] = [];
  answers.forEach((a, i) => {
    if (a === null) return;
    let c = heads.findIndex((h) => h === a || equal(a, h));
    if (c < 0) {
      c = heads.length;
      heads.push(a);
      sizes.push(0);
    }
    cluster[i] = c;
    sizes[c]++;
  });
  return { cluster, sizes };
}

/** What a tie for the most votes gives: the tied answer seen first wins (TTRL's
 *  `Counter.most_common`), or no answer wins and every response gets 0. */
export type VoteTie = "first" | "none";
export const VOTE_TIES: readonly VoteTie[] = ["first", "none"];

export interface MajorityVote {
  /** 1 for a response whose answer is in the winning cluster, else 0; one per `answers`. */
  rewards: Float64Array;
  /** The winning answer (its cluster's first member), null when none won. */
  majority: string | null;
  /** Share of all voters (answered or not) in the winning cluster; 0 when none won. */
  share: number;
}

/**
 * TTRL's majority-vote reward: the most common final answer among the voters is taken as the
 * pseudo-label, and r_i = 1 when response i's answer is equivalent to it, else 0. The voters are
 * the rewarded responses plus `extraVoters` (answers of further samples that vote but are not
 * trained on, as TTRL votes on 64 samples and trains on 32). Missing answers never vote for
 * anything and always get 0; when no voter has an answer, nothing wins and every reward is 0.
 */
export function majorityVote(
  answers: readonly (string | null)[],
  equal: AnswerEquivalence,
  options: { tie?: VoteTie; extraVoters?: readonly (string | null)[] } = {},
): MajorityVote {
  const tie = options.tie ?? "first";
  if (!VOTE_TIES.includes(tie)) throw new Error(`majority-vote: tie must be one of ${VOTE_TIES.join(", ")}`);
  const voters = [...answers, ...(options.extraVoters ?? [])];
  const { cluster, sizes } = clusterAnswers(voters, equal);
  const rewards = new Float64Array(answers.length);
  const most = Math.max(0, ...sizes);
  const leaders = sizes.flatMap((s, c) => (s === most && s > 0 ? [c] : []));
  if (leaders.length === 0 || (leaders.length > 1 && tie === "none"))
    return { rewards, majority: null, share: 0 };
  const winner = leaders[0];
  for (let i = 0; i < answers.length; i++) rewards[i] = cluster[i] === winner ? 1 : 0;
  return { rewards, majority: voters[cluster.indexOf(winner)], share: most / voters.length };
}

/**
 * EMPO's semantic-entropy reward: r_i = |c(i)| / G, the share of the group whose answer is
 * equivalent to response i's (the Monte-Carlo estimate of the probability of i's meaning), so
 * raising it lowers the group's semantic entropy. A response without an answer gets 0 and counts
 * in G. Also returns that entropy, −Σ_c p_c log p_c over the answered clusters (p_c = |c| / G).
 */
export function semanticClusterShare(
  answers: readonly (string | null)[],
  equal: AnswerEquivalence,
): { rewards: Float64Array; entropy: number } {
  const G = answers.length;
  const { cluster, sizes } = clusterAnswers(answers, equal);
  const rewards = new Float64Array(G);
  for (let i = 0; i < G; i++) rewards[i] = cluster[i] < 0 ? 0 : sizes[cluster[i]] / G;
  let entropy = 0;
  for (const s of sizes) entropy -= (s / G) * Math.log(s / G);
  return { rewards, entropy };
}

/** A 32-bit hash of a few integers (murmur3's finaliser after each word): one independent
 *  stream per (seed, step, index), whatever else is in the batch. */
function hashInts(...xs: number[]): number {
  let h = 0x9e3779b9;
  for (const x of xs) {
    h = Math.imul(h ^ (x | 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

/** Uniform in [0, 1) determined by (seed, step, index). */
export function uniformAt(seed: number, step: number, index: number): number {
  return hashInts(seed, step, index, 0x52414e44) / 2 ** 32;
}

/**
 * The spurious-reward control: r = 1 with probability p, else 0, drawn independently of the
 * response from (seed, step, index), so a resumed run draws exactly what an uninterrupted one did.
 * Any gain it produces needed no signal at all.
 */
export function randomReward(seed: number, step: number, index: number, p: number): number {
  if (!(p >= 0 && p <= 1)) throw new Error(`random reward: p must be in [0, 1], got ${p}`);
  return uniformAt(seed, step, index) < p ? 1 : 0;
}
