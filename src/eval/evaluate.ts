// Evaluation of a model on a problem set: greedy accuracy, or k samples per problem with
// mean@k, unbiased pass@k and maj@k, plus the response statistics the paper tracks (token
// entropy, self-certainty, trajectory log-prob, length, transitional-word rate).

import { Random } from "../engine/random.ts";
import type { Grader } from "../grading/index.ts";
import { largestBatch, type Sample, type SampleOptions, sample } from "../model/sample.ts";
import type { Transformer } from "../model/transformer.ts";
import { majorityVote, passAtK } from "./metrics.ts";

/** What evaluation needs of a tokenizer. */
export interface TextCodec {
  encode(text: string): number[];
  decode(ids: number[]): string;
  eosId: number;
  padId?: number;
  /** Tokens that end a response (default: eosId). */
  stopIds?: number[];
}

export interface EvalProblem {
  id: string;
  /** The exact prefix the model continues (prompt template already applied). */
  prompt: string;
  answer: string;
}

export interface EvalOptions {
  /** Samples per problem; 0 = greedy only. */
  k: number;
  temperature: number;
  topP: number;
  maxNewTokens: number;
  batchSize: number;
  rng: Random;
  /** Final-answer extraction + equivalence: returns the extracted answer and whether it is correct. */
  grade: Grader;
  /** Transitional-word rate (per 100 words) of a response. */
  transitionalRate: (text: string) => number;
  /** Whether a response re-checks a step (default: any transitional word). */
  hasReflection?: (text: string) => boolean;
  /** Tokens to forbid at each step, greedy and sampled alike (SampleOptions.block). */
  block?: SampleOptions["block"];
  onProgress?: (done: number, total: number) => void;
}

/** Options of a greedy-only evaluation (no samples, so the seed does not matter). */
export function greedyOnly(o: Pick<EvalOptions, "maxNewTokens" | "grade" | "transitionalRate">): EvalOptions {
  return { k: 0, temperature: 1, topP: 1, batchSize: 64, rng: new Random(0), ...o };
}

export interface ResponseRecord {
  text: string;
  answer: string | null;
  correct: boolean;
  length: number;
  stopped: boolean;
  meanEntropy: number;
  meanSelfCertainty: number;
  /** Σ_t log p_t(y_t) and its mean over tokens. */
  trajectoryLogp: number;
  meanLogp: number;
  transitionalRate: number;
  reflects: boolean;
}

export interface ProblemRecord {
  id: string;
  gold: string;
  greedy: ResponseRecord;
  samples: ResponseRecord[];
  /** Over the samples (absent when k = 0). */
  meanAtK?: number;
  passAtK?: Record<string, number>;
  majAnswer?: string | null;
  majCorrect?: boolean;
}

export interface EvalSummary {
  n: number;
  greedy_accuracy: number;
  mean_at_k?: number;
  pass_at_k?: Record<string, number>;
  maj_at_k?: number;
  /** Response statistics over greedy responses, and over samples when k > 0. */
  greedy: ResponseStats;
  sampled?: ResponseStats;
}

export interface ResponseStats {
  mean_token_entropy: number;
  mean_self_certainty: number;
  mean_trajectory_logp: number;
  mean_response_length: number;
  transitional_rate: number;
  reflection_frac: number;
  truncated_frac: number;
}

function mean(xs: number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : Number.NaN;
}

function record(s: Sample, codec: TextCodec, gold: string, o: EvalOptions): ResponseRecord {
  const ids = s.stopped ? s.tokens.slice(0, -1) : s.tokens;
  const text = codec.decode(ids);
  const g = o.grade(text, gold);
  const T = s.tokens.length;
  let lp = 0;
  for (const x of s.logp) lp += x;
  return {
    text,
    answer: g.answer,
    correct: g.correct,
    length: T,
    stopped: s.stopped,
    meanEntropy: T ? mean(Array.from(s.entropy)) : 0,
    meanSelfCertainty: T ? mean(Array.from(s.selfCertainty)) : 0,
    trajectoryLogp: lp,
    meanLogp: T ? lp / T : 0,
    transitionalRate: o.transitionalRate(text),
    reflects: o.hasReflection ? o.hasReflection(text) : o.transitionalRate(text) > 0,
  };
}

function stats(rs: ResponseRecord[]): ResponseStats {
  return {
    mean_token_entropy: mean(rs.map((r) => r.meanEntropy)),
    mean_self_certainty: mean(rs.map((r) => r.meanSelfCertainty)),
    mean_trajectory_logp: mean(rs.map((r) => r.trajectoryLogp)),
    mean_response_length: mean(rs.map((r) => r.length)),
    transitional_rate: mean(rs.map((r) => r.transitionalRate)),
    reflection_frac: mean(rs.map((r) => (r.reflects ? 1 : 0))),
    truncated_frac: mean(rs.map((r) => (r.stopped ? 0 : 1))),
  };
}

async function run(
  model: Transformer,
  codec: TextCodec,
  prompts: number[][],
  temperature: number,
  o: EvalOptions,
  progress: (n: number) => void,
): Promise<Sample[]> {
  // Greedy responses do not depend on the batch: take the largest that fits. Sampled ones do
  // (the draws go through the batch in order), so they keep batchSize and stay reproducible.
  const longest = Math.max(1, ...prompts.map((p) => p.length));
  const batch =
    temperature === 0 ? Math.max(o.batchSize, largestBatch(model, longest, o.maxNewTokens)) : o.batchSize;
  const out: Sample[] = [];
  for (let i = 0; i < prompts.length; i += batch) {
    const chunk = prompts.slice(i, i + batch);
    out.push(
      ...(await sample(model, chunk, {
        maxNewTokens: o.maxNewTokens,
        temperature,
        topP: temperature === 0 ? 1 : o.topP,
        stopTokens: codec.stopIds ?? [codec.eosId],
        padToken: codec.padId ?? codec.eosId,
        rng: o.rng,
        ...(o.block ? { block: o.block } : {}),
      })),
    );
    progress(chunk.length);
  }
  return out;
}

export async function evaluate(
  model: Transformer,
  codec: TextCodec,
  problems: EvalProblem[],
  o: EvalOptions,
): Promise<{ records: ProblemRecord[]; summary: EvalSummary }> {
  const prompts = problems.map((p) => codec.encode(p.prompt));
  const total = problems.length * (1 + o.k);
  let done = 0;
  const progress = (n: number) => {
    done += n;
    o.onProgress?.(done, total);
  };
  const greedy = await run(model, codec, prompts, 0, o, progress);
  const sampled =
    o.k > 0
      ? await run(
          model,
          codec,
          prompts.flatMap((p) => Array.from({ length: o.k }, () => p)),
          o.temperature,
          o,
          progress,
        )
      : [];
  const ks = [1, 2, 4, 8, 16, 32, 64].filter((k) => k <= o.k);
  const records: ProblemRecord[] = problems.map((p, i) => {
    const rec: ProblemRecord = {
      id: p.id,
      gold: p.answer,
      greedy: record(greedy[i], codec, p.answer, o),
      samples: sampled.slice(i * o.k, (i + 1) * o.k).map((s) => record(s, codec, p.answer, o)),
    };
    if (o.k > 0) {
      const c = rec.samples.filter((r) => r.correct).length;
      rec.meanAtK = c / o.k;
      rec.passAtK = Object.fromEntries(ks.map((k) => [String(k), passAtK(o.k, c, k)]));
      rec.majAnswer = majorityVote(rec.samples.map((r) => r.answer));
      // The majority answer is correct when any sample with that answer was graded correct.
      rec.majCorrect =
        rec.majAnswer !== null && rec.samples.some((r) => r.answer === rec.majAnswer && r.correct);
    }
    return rec;
  });
  const summary: EvalSummary = {
    n: problems.length,
    greedy_accuracy: mean(records.map((r) => (r.greedy.correct ? 1 : 0))),
    greedy: stats(records.map((r) => r.greedy)),
  };
  if (o.k > 0) {
    summary.mean_at_k = mean(records.map((r) => r.meanAtK!));
    summary.pass_at_k = Object.fromEntries(
      ks.map((k) => [String(k), mean(records.map((r) => r.passAtK![k]))]),
    );
    summary.maj_at_k = mean(records.map((r) => (r.majCorrect ? 1 : 0)));
    summary.sampled = stats(records.flatMap((r) => r.samples));
  }
  return { records, summary };
}
