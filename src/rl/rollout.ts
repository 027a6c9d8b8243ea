// Rollouts: G responses per prompt, sampled in batches with the KV cache. The sampling pass
// records log p, entropy and self-certainty per token, so internal rewards need no second pass.

import type { Random } from "../engine/random.ts";
import type { TextCodec } from "../eval/evaluate.ts";
import { sample } from "../model/sample.ts";
import type { Transformer } from "../model/transformer.ts";
import type { SampledResponse } from "../rewards/types.ts";

/** One sampled response to a prompt, with what the sampling pass recorded per token. */
export interface Rollout extends SampledResponse {
  promptIds: number[];
  /** The response hit the length limit before an end-of-sequence token. */
  truncated: boolean;
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
    });
  });
  return { ids, targets, mask, oldLogp, seqIndex, B, T };
}
