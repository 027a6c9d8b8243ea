// Token batches for the organism: a packed pretraining stream (base model) and padded chat
// examples with loss on the assistant turn only (instruct model). Batches are pure functions of
// (seed, step) so resumed runs see the same data.

import { Random } from "../engine/random.ts";
import type { Tokenizer } from "../model/tokenizer.ts";
import { buildCharTokenizer } from "../model/tokenizer.ts";
import type { BatchSource, TokenBatch } from "../train/lm.ts";
import { formatPrompt, pretrainDocuments, sftExamples } from "./corpus.ts";
import { generateProblems, SPLITS } from "./world.ts";

/** The organism's character tokenizer: every character the world can write. */
export function organismTokenizer(seed = 0): Tokenizer {
  const texts: string[] = [];
  for (const d of pretrainDocuments(seed, 2000)) texts.push(d.text);
  for (const e of sftExamples(seed, 500)) texts.push(e.text);
  for (const split of SPLITS)
    for (const p of generateProblems(split, seed, 500)) texts.push(formatPrompt(p, "base"));
  return buildCharTokenizer(texts);
}

function withBos(tok: Tokenizer, ids: number[]): number[] {
  return tok.bosId === undefined ? ids : [tok.bosId, ...ids];
}

/** Documents concatenated (BOS-separated) into one stream, cut into windows of T tokens. */
export class PackedStream implements BatchSource {
  readonly stream: Int32Array;
  private readonly windows: number;
  private order: { pass: number; windows: number[] } | null = null;
  constructor(
    docs: string[],
    tok: Tokenizer,
    readonly B: number,
    readonly T: number,
    private readonly seed: number,
  ) {
    // Documents end in <|endoftext|>, which is also the BOS: only the first needs one prepended.
    const parts = docs.map((d, i) => (i === 0 ? withBos(tok, tok.encode(d)) : tok.encode(d)));
    const n = parts.reduce((a, p) => a + p.length, 0);
    this.stream = new Int32Array(n);
    let at = 0;
    for (const p of parts) {
      this.stream.set(p, at);
      at += p.length;
    }
    this.windows = Math.floor(n / T);
    if (this.windows < B) throw new Error(`corpus of ${n} tokens is too small for batches of ${B}x${T}`);
  }

  get tokens(): number {
    return this.stream.length;
  }

  batchAt(step: number): TokenBatch {
    const { B, T } = this;
    const ids = new Int32Array(B * T);
    // Window order: a seeded permutation per pass over the corpus, made once per pass.
    const perPass = Math.floor(this.windows / B);
    const pass = Math.floor(step / perPass);
    if (this.order?.pass !== pass)
      this.order = {
        pass,
        windows: new Random((this.seed * 7919 + pass * 104729) >>> 0).permutation(this.windows),
      };
    const order = this.order.windows;
    const first = (step % perPass) * B;
    for (let b = 0; b < B; b++) {
      const w = order[first + b];
      ids.set(this.stream.subarray(w * T, (w + 1) * T), b * T);
    }
    return { ids, weights: new Float32Array(B * T).fill(1), B, T };
  }
}

/** Chat examples, one per row, right-padded; the loss covers the completion only. */
export class SftBatches implements BatchSource {
  private readonly rows: { ids: number[]; promptLen: number }[];
  constructor(
    examples: { prompt: string; completion: string }[],
    private readonly tok: Tokenizer,
    readonly B: number,
    readonly T: number,
    private readonly seed: number,
  ) {
    this.rows = examples.map((e) => {
      const p = withBos(tok, tok.encode(e.prompt));
      const ids = [...p, ...tok.encode(e.completion)];
      if (ids.length > T) throw new Error(`SFT example of ${ids.length} tokens exceeds seq_len ${T}`);
      return { ids, promptLen: p.length };
    });
  }

  batchAt(step: number): TokenBatch {
    const { B, T } = this;
    const ids = new Int32Array(B * T).fill(this.tok.padId);
    const weights = new Float32Array(B * T);
    const rng = new Random((this.seed * 7919 + step * 104729 + 1) >>> 0);
    for (let b = 0; b < B; b++) {
      const r = this.rows[rng.below(this.rows.length)];
      ids.set(r.ids, b * T);
      // Position t predicts token t+1: weight the predictions of completion tokens.
      for (let t = r.promptLen - 1; t < r.ids.length - 1; t++) weights[b * T + t] = 1;
    }
    return { ids, weights, B, T };
  }
}
