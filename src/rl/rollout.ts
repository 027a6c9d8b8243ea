// Stage 1 of an RL step, collect: the step's prompts, and G responses per prompt sampled in
// batches with the KV cache. The sampling pass records log p, entropy and self-certainty per
// token, so internal rewards need no second pass. Everything random is a pure function of
// (seed, step), so a resumed run repeats exactly what an uninterrupted one would have done.

import { Random } from "../engine/random.ts";
import type { TextCodec } from "../eval/evaluate.ts";
import { sample } from "../model/sample.ts";
import type { Transformer } from "../model/transformer.ts";
import type { SampledResponse } from "../rewards/types.ts";
import { NonFiniteError } from "../train/run.ts";
import type { TrainConfig } from "./config.ts";

/** One sampled response to a prompt, with what the sampling pass recorded per token. */
export interface Rollout extends SampledResponse {
  promptIds: number[];
  /** The response hit the length limit before an end-of-sequence token. */
  truncated: boolean;
  /** Per response token: log π_ref(y_t), when a KL term needs it. The reference does not move,
   *  so the score stage computes it once per step (rl/score.ts) for the reward and every update. */
  refLogp?: Float32Array;
}

export interface PromptItem {
  id: string;
  /** Templated prompt text (what the model continues). */
  text: string;
  answer: string;
}

export interface RolloutOptions {
  groupSize: number;
  temperature: number;
  topP: number;
  maxNewTokens: number;
  batchSize: number;
  rng: Random;
}

/** The seed of one random stream of a step: `salt` tells the streams of a step apart. */
export function stepSeed(seed: number, step: number, salt: number): number {
  return (Math.imul(seed ^ 0x5bd1e995, 0x27d4eb2d) + Math.imul(step + 1, 0x165667b1) + salt) >>> 0;
}

/** Prompts of one step: a seeded permutation walk over the pool, without repeats inside an epoch. */
export function promptsForStep(pool: PromptItem[], n: number, seed: number, step: number): PromptItem[] {
  const perEpoch = Math.max(1, Math.floor(pool.length / n));
  const epoch = Math.floor(step / perEpoch);
  const order = new Random(stepSeed(seed, epoch, 17)).permutation(pool.length);
  const start = (step % perEpoch) * n;
  return Array.from({ length: n }, (_, i) => pool[order[(start + i) % pool.length]]);
}

function allFinite(xs: ArrayLike<number>): boolean {
  for (let i = 0; i < xs.length; i++) if (!Number.isFinite(xs[i])) return false;
  return true;
}

/**
 * The collect stage: step `step`'s rollouts from `pool`; NonFiniteError if sampling saw NaN/Inf.
 * Each prompt gets group_size + vote_extra responses. Sampling round `round` > 0 (dynamic
 * sampling's further prompts) draws other prompts and numbers its groups after the earlier
 * rounds'; round 0 is what a step without dynamic sampling samples.
 */
export async function collect(
  model: Transformer,
  codec: TextCodec,
  pool: PromptItem[],
  r: TrainConfig["rollout"],
  at: { seed: number; step: number; round?: number },
): Promise<Rollout[]> {
  const round = at.round ?? 0;
  const promptSeed = round === 0 ? at.seed : stepSeed(at.seed, round, 31);
  const prompts = promptsForStep(pool, r.prompts_per_step, promptSeed, at.step);
  const rollouts = await collectRollouts(model, codec, prompts, {
    groupSize: r.group_size + r.vote_extra,
    temperature: r.temperature,
    topP: r.top_p,
    maxNewTokens: r.max_new_tokens,
    batchSize: r.batch_size,
    rng: new Random(stepSeed(at.seed, at.step, 1 + 1000 * round)),
  });
  const bad = rollouts.findIndex(
    (x) => !allFinite(x.logp) || !allFinite(x.entropy) || !allFinite(x.selfCertainty),
  );
  if (bad >= 0) throw new NonFiniteError(`log-probabilities while sampling (rollout ${bad})`);
  for (const x of rollouts) x.group += round * r.prompts_per_step;
  return rollouts;
}

export async function collectRollouts(
  model: Transformer,
  codec: TextCodec,
  prompts: PromptItem[],
  o: RolloutOptions,
): Promise<Rollout[]> {
  const encoded = prompts.map((p) => codec.encode(p.text));
  const jobs: { group: number; ids: number[] }[] = [];
  encoded.forEach((ids, g) => {
    for (let i = 0; i < o.groupSize; i++) jobs.push({ group: g, ids });
  });
  const out: Rollout[] = [];
  for (let i = 0; i < jobs.length; i += o.batchSize) {
    const chunk = jobs.slice(i, i + o.batchSize);
    const samples = await sample(
      model,
      chunk.map((j) => j.ids),
      {
        maxNewTokens: o.maxNewTokens,
        temperature: o.temperature,
        topP: o.topP,
        stopTokens: codec.stopIds ?? [codec.eosId],
        padToken: codec.padId ?? codec.eosId,
        rng: o.rng,
      },
    );
    samples.forEach((s, k) => {
      const job = chunk[k];
      // The end-of-sequence token is part of the response (it is an action the policy took).
      const text = codec.decode(s.stopped ? s.tokens.slice(0, -1) : s.tokens);
      out.push({
        promptIds: job.ids,
        responseIds: s.tokens,
        responseText: text,
        gold: prompts[job.group].answer,
        logp: s.logp,
        entropy: s.entropy,
        selfCertainty: s.selfCertainty,
        truncated: !s.stopped,
        group: job.group,
      });
    });
  }
  return out;
}

/**
 * Pack rollouts into a right-padded batch [B, T] of prompt + response, with per-position arrays
 * aligned to the *predicting* position: the logits at position t predict token t+1, so response
 * token j of sequence b (at position P_b + j) is predicted at row b*T + P_b + j - 1.
 */
export function packRollouts(rollouts: Rollout[], pad: number) {
  const B = rollouts.length;
  const T = Math.max(...rollouts.map((r) => r.promptIds.length + Math.max(1, r.responseIds.length)));
  const N = B * T;
  const ids = new Int32Array(N).fill(pad);
  const targets = new Int32Array(N).fill(-1);
  const mask = new Float32Array(N);
  const oldLogp = new Float32Array(N);
  // The reference's log-probs, aligned like oldLogp, when every rollout carries them.
  const refLogp = rollouts.every((r) => r.refLogp) ? new Float32Array(N) : null;
  const seqIndex = new Int32Array(N);
  rollouts.forEach((r, b) => {
    const P = r.promptIds.length;
    ids.set(r.promptIds, b * T);
    ids.set(r.responseIds, b * T + P);
    for (let t = 0; t < T; t++) seqIndex[b * T + t] = b;
    r.responseIds.forEach((tok, j) => {
      const row = b * T + P + j - 1;
      targets[row] = tok;
      mask[row] = 1;
      oldLogp[row] = r.logp[j];
      if (refLogp) refLogp[row] = (r.refLogp as Float32Array)[j];
    });
  });
  return { ids, targets, mask, oldLogp, refLogp, seqIndex, B, T };
}
