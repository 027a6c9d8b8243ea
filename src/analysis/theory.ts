// Theory checks on real rollouts (rlif-spec.md, "Identities"): for a model and a batch of sampled
// responses, recompute every token's full distribution from a plain forward pass in float64 and
//  - token-entropy reward: −H_t = KL(p_t ‖ U) − log V, each side computed from its own definition;
//  - self-certainty: the sampler's sc_t (what the trainer rewards) = KL(U ‖ p_t) summed explicitly;
//  - chain rule, by Monte Carlo: mean_i(−Σ_t log p(y_t)) ≈ mean_i(Σ_t H_t), with a standard error;
// and the correlations among the three internal rewards and with correctness on this batch.

import { Random } from "../engine/random.ts";
import { noGrad, tidy } from "../engine/tensor.ts";
import type { TextCodec } from "../eval/evaluate.ts";
import { sample } from "../model/sample.ts";
import type { Transformer } from "../model/transformer.ts";
import { pearson, pointBiserial } from "../rl/stats.ts";

export interface TokenDist {
  H: number;
  klPU: number;
  klUP: number;
  logp: number;
}

/** Entropy, KL(p‖U), KL(U‖p) and log p(target) of softmax(z) in float64, each from its own sum. */
export function tokenDist(z: ArrayLike<number>, target: number): TokenDist {
  const V = z.length;
  let m = Number.NEGATIVE_INFINITY;
  for (let j = 0; j < V; j++) if (z[j] > m) m = z[j];
  let s = 0;
  for (let j = 0; j < V; j++) s += Math.exp(z[j] - m);
  const lse = m + Math.log(s);
  const logV = Math.log(V);
  let H = 0;
  let klPU = 0;
  let klUP = 0;
  for (let j = 0; j < V; j++) {
    const lp = z[j] - lse;
    const p = Math.exp(lp);
    H -= p * lp;
    klPU += p * (lp + logV); // Σ p log(p / (1/V))
    klUP += (-logV - lp) / V; // Σ (1/V) log((1/V) / p)
  }
  return { H, klPU, klUP, logp: z[target] - lse };
}

export interface TheoryOptions {
  samplesPerPrompt: number;
  maxNewTokens: number;
  temperature?: number;
  seed?: number;
  /** Correctness of a response text against the gold answer (for the correlations). */
  grade?: (text: string, gold: string) => boolean;
}

export interface TheoryResult {
  responses: number;
  tokens: number;
  vocab: number;
  /** max_t |(−H_t) − (KL(p_t‖U) − log V)| */
  entropyIdentityMaxErr: number;
  /** min_t KL(p_t‖U) and min_t KL(U‖p_t): both must be ≥ 0. */
  minKlPU: number;
  minKlUP: number;
  /** max_t |sc_t (sampler) − KL(U‖p_t)|, |H_t (sampler) − H_t|, |log p (sampler) − log p|. */
  selfCertaintyMaxErr: number;
  samplerEntropyMaxErr: number;
  samplerLogpMaxErr: number;
  /** Chain rule by Monte Carlo over responses. */
  chain: { meanNegLogp: number; meanSumEntropy: number; diff: number; se: number; z: number | null };
  /** Per-response rewards: Pearson among internal rewards, point-biserial with correctness. */
  correlations: Record<string, number | null>;
  accuracy: number | null;
}

const THEORY_CHUNK = 128;

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

export async function theoryChecks(
  model: Transformer,
  codec: TextCodec,
  prompts: { text: string; answer: string }[],
  o: TheoryOptions,
): Promise<TheoryResult> {
  const t = o.temperature ?? 1;
  const G = o.samplesPerPrompt;
  const ids = prompts.flatMap((p) => Array.from({ length: G }, () => codec.encode(p.text)));
  const gold = prompts.flatMap((p) => Array.from({ length: G }, () => p.answer));
  const stop = codec.stopIds ?? [codec.eosId];
  // In chunks: one batch of every response (16 × 64 in the full profile) needs a KV cache and
  // activations beyond the wasm backend's 4 GiB.
  const rng = new Random(o.seed ?? 0);
  const samples: Awaited<ReturnType<typeof sample>> = [];
  for (let c = 0; c < ids.length; c += THEORY_CHUNK)
    samples.push(
      ...(await sample(model, ids.slice(c, c + THEORY_CHUNK), {
        maxNewTokens: o.maxNewTokens,
        temperature: t,
        stopTokens: stop,
        padToken: codec.padId ?? codec.eosId,
        rng,
      })),
    );
  const V = model.dims.V;
  const r = {
    tokens: 0,
    entropyIdentityMaxErr: 0,
    minKlPU: Number.POSITIVE_INFINITY,
    minKlUP: Number.POSITIVE_INFINITY,
    selfCertaintyMaxErr: 0,
    samplerEntropyMaxErr: 0,
    samplerLogpMaxErr: 0,
  };
  const negLogp: number[] = [];
  const sumH: number[] = [];
  const rewards: Record<string, number[]> = {
    "self-certainty": [],
    "token-entropy": [],
    "trajectory-entropy": [],
  };
  const correct: number[] = [];
  for (const [i, s] of samples.entries()) {
    const T = s.tokens.length;
    if (T === 0) continue;
    const seq = Int32Array.from([...ids[i], ...s.tokens]);
    const out = noGrad(() => tidy(() => model.forward(seq, 1, seq.length)));
    const logits = Float64Array.from(await out.read());
    out.dispose();
    const P = ids[i].length;
    let lp = 0;
    let h = 0;
    let sc = 0;
    for (let k = 0; k < T; k++) {
      const row = logits.subarray((P + k - 1) * V, (P + k) * V);
      const z = new Float64Array(V);
      for (let j = 0; j < V; j++) z[j] = row[j] / t;
      const d = tokenDist(z, s.tokens[k]);
      r.entropyIdentityMaxErr = Math.max(r.entropyIdentityMaxErr, Math.abs(-d.H - (d.klPU - Math.log(V))));
      r.minKlPU = Math.min(r.minKlPU, d.klPU);
      r.minKlUP = Math.min(r.minKlUP, d.klUP);
      r.selfCertaintyMaxErr = Math.max(r.selfCertaintyMaxErr, Math.abs(s.selfCertainty[k] - d.klUP));
      r.samplerEntropyMaxErr = Math.max(r.samplerEntropyMaxErr, Math.abs(s.entropy[k] - d.H));
      r.samplerLogpMaxErr = Math.max(r.samplerLogpMaxErr, Math.abs(s.logp[k] - d.logp));
      lp += d.logp;
      h += d.H;
      sc += d.klUP;
    }
    r.tokens += T;
    negLogp.push(-lp);
    sumH.push(h);
    rewards["self-certainty"].push(sc / T);
    rewards["token-entropy"].push(-h / T);
    rewards["trajectory-entropy"].push(lp / T);
    if (o.grade) {
      const text = codec.decode(s.stopped ? s.tokens.slice(0, -1) : s.tokens);
      correct.push(o.grade(text, gold[i]) ? 1 : 0);
    }
  }
  const n = negLogp.length;
  if (n === 0) throw new Error("theory checks: every sampled response was empty");
  const d = negLogp.map((x, i) => x - sumH[i]);
  const md = mean(d);
  const se = n > 1 ? Math.sqrt(d.reduce((a, x) => a + (x - md) ** 2, 0) / (n - 1) / n) : Number.NaN;
  const names = Object.keys(rewards);
  const correlations: Record<string, number | null> = {};
  for (let a = 0; a < names.length; a++)
    for (let b = a + 1; b < names.length; b++)
      correlations[`${names[a]}~${names[b]}`] = pearson(rewards[names[a]], rewards[names[b]]);
  if (o.grade) for (const a of names) correlations[`${a}~correctness`] = pointBiserial(rewards[a], correct);
  return {
    responses: n,
    vocab: V,
    ...r,
    chain: {
      meanNegLogp: mean(negLogp),
      meanSumEntropy: mean(sumH),
      diff: md,
      se,
      z: se > 0 ? md / se : null,
    },
    correlations,
    accuracy: o.grade ? mean(correct) : null,
  };
}
