// Batched, seeded sampling with a KV cache. Besides the tokens, it records for every generated
// position the quantities the internal rewards need (rlif-spec.md), computed from the same
// temperature-scaled logits the token was drawn from: log p(token), entropy, self-certainty.

import { Random } from "../engine/random.ts";
import { tidy } from "../engine/tensor.ts";
import { sequenceEvalBytes } from "./memory.ts";
import { KVCache, type Transformer } from "./transformer.ts";

export interface SampleOptions {
  maxNewTokens: number;
  /** 0 means greedy (argmax); statistics are then those of the untempered distribution. */
  temperature?: number;
  topP?: number;
  /** 0 disables top-k. */
  topK?: number;
  stopTokens?: number[];
  /** Token fed for finished sequences (never recorded). */
  padToken?: number;
  seed?: number;
  rng?: Random;
  /** false: decode op by op even where the backend has a fused decoder (the reference path). */
  fused?: boolean;
  /** Token ids a sequence may not draw next, given the tokens it has generated so far (e.g.
   *  tasks/reflection-block.ts). They get probability 0 and the others are renormalised before the
   *  draw (top-k / top-p then act on what is left); greedy takes the argmax of the allowed tokens.
   *  A block decodes op by op: the fused decoder has no hook. An empty list changes nothing. */
  block?: (generated: readonly number[]) => readonly number[];
}

export interface Sample {
  /** Generated tokens, including the stop token when one ended the sequence. */
  tokens: number[];
  /** True when a stop token ended it; false when it ran out of maxNewTokens. */
  stopped: boolean;
  logp: Float32Array;
  entropy: Float32Array;
  selfCertainty: Float32Array;
}

/** log p(token), entropy and self-certainty of softmax(z), plus the distribution, in float64. */
export function distributionStats(z: ArrayLike<number>): {
  probs: Float64Array;
  lse: number;
  H: number;
  sc: number;
} {
  const V = z.length;
  let m = Number.NEGATIVE_INFINITY;
  let mean = 0;
  for (let j = 0; j < V; j++) {
    if (z[j] > m) m = z[j];
    mean += z[j];
  }
  mean /= V;
  const probs = new Float64Array(V);
  let s = 0;
  for (let j = 0; j < V; j++) s += probs[j] = Math.exp(z[j] - m);
  const lse = m + Math.log(s);
  let H = 0;
  for (let j = 0; j < V; j++) {
    probs[j] /= s;
    if (probs[j] > 0) H -= probs[j] * (z[j] - lse);
  }
  return { probs, lse, H, sc: lse - mean - Math.log(V) };
}

/** Draw from probs restricted to the top-k tokens and the smallest set with mass >= topP. */
export function drawToken(probs: Float64Array, rng: Random, topK = 0, topP = 1): number {
  const V = probs.length;
  if ((topK <= 0 || topK >= V) && topP >= 1) {
    let u = rng.next();
    for (let j = 0; j < V; j++) {
      u -= probs[j];
      if (u < 0) return j;
    }
    for (let j = V - 1; j >= 0; j--) if (probs[j] > 0) return j; // rounding left u >= 0
    return V - 1;
  }
  const order = Array.from({ length: V }, (_, j) => j).sort((a, b) => probs[b] - probs[a] || a - b);
  let keep = topK > 0 ? Math.min(topK, V) : V;
  let mass = 0;
  for (let i = 0; i < keep; i++) {
    mass += probs[order[i]];
    if (mass >= topP) {
      keep = i + 1;
      break;
    }
  }
  let total = 0;
  for (let i = 0; i < keep; i++) total += probs[order[i]];
  let u = rng.next() * total;
  for (let i = 0; i < keep; i++) {
    u -= probs[order[i]];
    if (u < 0) return order[i];
  }
  return order[keep - 1];
}

/** The token ids of a vocabulary of V that are not forbidden, in order. */
export function allowedTokens(V: number, forbidden: readonly number[]): number[] {
  const banned = new Uint8Array(V);
  for (const j of forbidden) {
    if (!Number.isInteger(j) || j < 0 || j >= V)
      throw new Error(`block: token id ${j} is not in a vocabulary of ${V}`);
    banned[j] = 1;
  }
  const allowed: number[] = [];
  for (let j = 0; j < V; j++) if (!banned[j]) allowed.push(j);
  if (!allowed.length) throw new Error("block: every token of the vocabulary is forbidden");
  return allowed;
}

/** One decoding step from the (temperature-scaled) logits z: the token, drawn (or the argmax when
 *  greedy) among `allowed` (null: all), and what the sample records of it. With a restriction, the
 *  statistics are those of the distribution the token is drawn from: softmax over the allowed
 *  tokens (renormalised), and self-certainty KL(U || p) with U uniform over the allowed tokens, as
 *  if the vocabulary were only those. */
export function pickToken(
  z: Float64Array,
  allowed: readonly number[] | null,
  greedy: boolean,
  rng: Random,
  topK = 0,
  topP = 1,
): { token: number; logp: number; H: number; sc: number } {
  const zs = allowed ? Float64Array.from(allowed, (j) => z[j]) : z;
  const st = distributionStats(zs);
  const i = greedy ? argmax(zs) : drawToken(st.probs, rng, topK, topP);
  return { token: allowed ? allowed[i] : i, logp: zs[i] - st.lse, H: st.H, sc: st.sc };
}

function argmax(z: ArrayLike<number>): number {
  let best = 0;
  for (let j = 1; j < z.length; j++) if (z[j] > z[best]) best = j;
  return best;
}

/** Sequences that sample() takes in one batch within `budgetBytes` (at least 1). Per-sequence
 *  results do not depend on the batch except through the order of the random draws, so greedy
 *  decoding can use the largest batch that fits. */
export function largestBatch(
  model: Transformer,
  promptLen: number,
  maxNewTokens: number,
  budgetBytes = 256 * 2 ** 20,
): number {
  const context = Math.min(promptLen + maxNewTokens, model.config.max_position_embeddings);
  return Math.max(1, Math.floor(budgetBytes / sequenceEvalBytes(model.config, promptLen, context)));
}

/** Continue every prompt (token ids) by up to maxNewTokens tokens, all sequences in one batch.
 *  After the prefill, a backend with a fused decoder (Backend.decode) runs the whole loop; else,
 *  and for top-k / top-p or a block, the model runs op by op with the statistics and draws below.
 *  Both give the same tokens and statistics for the same seed. */
export async function sample(model: Transformer, prompts: number[][], o: SampleOptions): Promise<Sample[]> {
  const B = prompts.length;
  if (B === 0) return [];
  const temperature = o.temperature ?? 1;
  if (temperature < 0 || !Number.isFinite(temperature)) throw new Error(`invalid temperature ${temperature}`);
  const rng = o.rng ?? new Random(o.seed ?? 0);
  const pad = o.padToken ?? 0;
  const lens = prompts.map((p) => p.length);
  if (lens.some((n) => n === 0)) throw new Error("sample: empty prompt");
  const Tp = Math.max(...lens);
  const maxPos = model.config.max_position_embeddings;
  if (Tp >= maxPos) throw new Error(`prompt of ${Tp} tokens leaves no room in ${maxPos} positions`);
  // Each sequence generates at most maxNewTokens, and never past the model's last position.
  const limit = lens.map((n) => Math.min(o.maxNewTokens, maxPos - n));
  const capacity = Math.max(...lens.map((n, b) => n + limit[b]));
  const cache = new KVCache(model, B, capacity);
  try {
    // Prefill: right-padded prompts; padding is written to the cache past each prompt's end but is
    // never attended to, and each sequence's decoding overwrites it from its own length onwards.
    const ids = new Int32Array(B * Tp).fill(pad);
    for (let b = 0; b < B; b++) ids.set(prompts[b], b * Tp);
    // Logits of each prompt's last token only (B rows of V, not B*Tp).
    const lastRows = Int32Array.from(lens, (n, b) => b * Tp + n - 1);
    const logits = tidy(() => model.forwardCached(ids, B, Tp, cache, new Int32Array(B), lastRows));
    try {
      const plain = (o.topK ?? 0) <= 0 && (o.topP ?? 1) >= 1 && !o.block;
      const backend = model.embed.backend;
      const plan = plain && o.fused !== false && backend.decode ? model.decoderPlan(cache) : null;
      const fused =
        plan && backend.decode
          ? backend.decode(plan, {
              logits: logits.storage,
              rows: Int32Array.from(lens, (_, b) => b),
              positions: Int32Array.from(lens),
              limits: Int32Array.from(limit),
              maxNewTokens: o.maxNewTokens,
              temperature,
              stopTokens: o.stopTokens ?? [],
              rngState: rng.state,
            })
          : null;
      if (fused) {
        rng.state = fused.rngState;
        return fused.tokens.map((t, b) => ({
          tokens: Array.from(t),
          stopped: fused.stopped[b],
          logp: fused.logp[b],
          entropy: fused.entropy[b],
          selfCertainty: fused.selfCertainty[b],
        }));
      }
      const rows = await logits.read();
      const V = model.dims.V;
      const last = lens.map((_, b) => rows.slice(b * V, (b + 1) * V));
      return await decodeOpByOp(model, cache, last, { ...o, temperature, rng, pad, lens, limit });
    } finally {
      logits.dispose();
    }
  } finally {
    cache.dispose();
  }
}

/** The decoding loop on the model's ops: statistics and draws in TypeScript, one sequence at a
 *  time. `first` holds each sequence's logits at its last prompt position. */
async function decodeOpByOp(
  model: Transformer,
  cache: KVCache,
  first: ArrayLike<number>[],
  o: SampleOptions & { temperature: number; rng: Random; pad: number; lens: number[]; limit: number[] },
): Promise<Sample[]> {
  const { temperature, rng, limit } = o;
  const B = first.length;
  const V = model.dims.V;
  const stop = new Set(o.stopTokens ?? []);
  const out: {
    tokens: number[];
    logp: number[];
    H: number[];
    sc: number[];
    stopped: boolean;
    done: boolean;
  }[] = first.map(() => ({ tokens: [], logp: [], H: [], sc: [], stopped: false, done: false }));
  let last = first;
  const pos = Int32Array.from(o.lens);
  const z = new Float64Array(V);
  for (let step = 0; step < o.maxNewTokens; step++) {
    const next = new Int32Array(B).fill(o.pad);
    let active = 0;
    for (let b = 0; b < B; b++) {
      const s = out[b];
      if (s.done) continue;
      const row = last[b];
      const t = temperature > 0 ? temperature : 1;
      for (let j = 0; j < V; j++) z[j] = row[j] / t;
      const forbidden = o.block?.(s.tokens);
      const allowed = forbidden?.length ? allowedTokens(V, forbidden) : null;
      const p = pickToken(z, allowed, temperature === 0, rng, o.topK ?? 0, o.topP ?? 1);
      s.tokens.push(p.token);
      s.logp.push(p.logp);
      s.H.push(p.H);
      s.sc.push(p.sc);
      next[b] = p.token;
      if (stop.has(p.token)) s.stopped = s.done = true;
      else if (s.tokens.length >= limit[b]) s.done = true;
      else active++;
    }
    if (active === 0) break;
    const logits = tidy(() => model.forwardCached(next, B, 1, cache, pos));
    const rows = await logits.read();
    last = out.map((_, b) => rows.slice(b * V, (b + 1) * V));
    logits.dispose();
    // Finished sequences keep being fed (shapes stay fixed) but stay inside their cache row.
    for (let b = 0; b < B; b++) pos[b] = out[b].done ? Math.min(pos[b] + 1, cache.capacity - 1) : pos[b] + 1;
  }
  return out.map((s) => ({
    tokens: s.tokens,
    stopped: s.stopped,
    logp: Float32Array.from(s.logp),
    entropy: Float32Array.from(s.H),
    selfCertainty: Float32Array.from(s.sc),
  }));
}
