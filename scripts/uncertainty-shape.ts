// What shape a base model's uncertainty has where it hesitates, and whether self-certainty sees it
// (issue 11, docs/organism.md "Why self-certainty stays near chance"). Per sampled position,
// sc_t = KL(U || p_t) = logsumexp(z) − mean(z) − log V: hesitating between a few likely tokens
// raises logsumexp and so *raises* sc_t unless the other tokens' logits rise too; only
// uncertainty spread over many tokens lowers it. This script samples k responses per test-id
// problem at T = 1 and tabulates, by the position's entropy H_t, the mean sc_t and the mean
// probability of the token drawn; then, for digits and for other characters, the within-group
// AUROC of the response's mean sc_t over those positions alone against correctness; and the mean
// sc_t over the characters that follow a hard step written right and written wrong (the organism's
// tokenizer has one token per character, special tokens aside).
// Usage: node --import tsx scripts/uncertainty-shape.ts [--model organism-v2-k0] [--limit 128] [--k 8] [--threads 1]
import { parseArgs } from "node:util";
import { withinGroupAuroc } from "../src/analysis/statistics.ts";
import { initBackend } from "../src/cli/backend.ts";
import { positiveIntFlag } from "../src/cli/options.ts";
import { Random } from "../src/engine/random.ts";
import { loadProblems, makeGrader, withTemplate } from "../src/eval/sources.ts";
import { openModel } from "../src/model/open.ts";
import { type Sample, sample } from "../src/model/sample.ts";
import { DEFAULT_MIXTURE_V2, isHardStep } from "../src/tasks/corpus-v2.ts";
import { applyOp, type Op } from "../src/tasks/world.ts";

const { values } = parseArgs({
  options: {
    model: { type: "string", default: "organism-v2-k0" },
    window: { type: "string", default: "30" },
    limit: { type: "string", default: "128" },
    k: { type: "string", default: "8" },
    threads: { type: "string", default: "1" },
  },
});
const [limit, k, threads, window] = ["limit", "k", "threads", "window"].map((n) =>
  positiveIntFlag(values[n as keyof typeof values]!, n),
) as [number, number, number, number];
await initBackend("auto", threads);
const { model, codec, kind } = openModel(values.model!);
const source = "organism:test-id";
const problems = withTemplate(loadProblems(source, limit), kind);
const grade = makeGrader(source);
const stops = codec.stopIds ?? [codec.eosId];

const prompts = problems.flatMap((p) => Array.from({ length: k }, () => codec.encode(p.prompt)));
const samples: Sample[] = [];
const rng = new Random(0);
for (let i = 0; i < prompts.length; i += 128)
  samples.push(
    ...(await sample(model, prompts.slice(i, i + 128), {
      temperature: 1,
      maxNewTokens: 200,
      rng,
      stopTokens: stops,
      padToken: codec.padId,
    })),
  );

const BUCKETS = [0.05, 0.25, 0.75, 1.5, Number.POSITIVE_INFINITY];
const rows = BUCKETS.map(() => ({ n: 0, sc: 0, p: 0 }));
type Part = "digit" | "other";
interface Scored {
  correct: boolean;
  mean: Record<Part | "all", number>;
}
const groups: Scored[][] = problems.map(() => []);
let total = 0;
// After a hard step (any written one, a reflection's included): mean sc_t over the next `window` characters.
const after = { right: { sc: 0, n: 0 }, wrong: { sc: 0, n: 0 } };
const STEP = /(\d+) ?([-+*]) ?(\d+) ?= ?(-?\d+)/g;
samples.forEach((s, i) => {
  const body = s.stopped ? s.tokens.slice(0, -1) : s.tokens;
  const text = codec.decode(body);
  const pieces = body.map((id) => codec.decode([id]));
  // The token each character came from (special tokens may decode to several characters or none).
  const tokenAt = pieces.flatMap((piece, t) => Array.from(piece, () => t));
  if (tokenAt.length !== text.length) throw new Error(`${values.model}: token-wise decoding differs`);
  for (const m of text.matchAll(STEP)) {
    const [a, op, b, v] = [Number(m[1]), m[2] as Op, Number(m[3]), Number(m[4])];
    if (!isHardStep(a, op, b, DEFAULT_MIXTURE_V2.hardProduct)) continue;
    const end = tokenAt[m.index + m[0].length - 1]! + 1;
    const w = s.selfCertainty.subarray(end, Math.min(body.length, end + window));
    if (!w.length) continue;
    const a2 = applyOp(a, op, b) === v ? after.right : after.wrong;
    a2.sc += w.reduce((x, y) => x + y, 0) / w.length;
    a2.n++;
  }
  const acc = { digit: { sc: 0, n: 0 }, other: { sc: 0, n: 0 }, all: { sc: 0, n: 0 } };
  pieces.forEach((piece, t) => {
    const [H, sc] = [s.entropy[t]!, s.selfCertainty[t]!];
    const b = BUCKETS.findIndex((x) => H < x);
    rows[b]!.n++;
    rows[b]!.sc += sc;
    rows[b]!.p += Math.exp(s.logp[t]!);
    total++;
    const part: Part = /^[0-9]$/.test(piece) ? "digit" : "other";
    for (const a of [acc[part], acc.all]) {
      a.sc += sc;
      a.n++;
    }
  });
  const mean = (a: { sc: number; n: number }) => (a.n ? a.sc / a.n : Number.NaN);
  groups[Math.floor(i / k)]!.push({
    correct: grade(text, problems[Math.floor(i / k)]!.answer).correct,
    mean: { digit: mean(acc.digit), other: mean(acc.other), all: mean(acc.all) },
  });
});

console.log(
  `${values.model}: ${problems.length} test-id problems × ${k} samples at T = 1, ${total} positions\n`,
);
console.log(
  "| entropy H_t (nats) | share of positions | mean sc_t | mean p(drawn token) |\n| --- | --- | --- | --- |",
);
let lo = 0;
for (const [b, r] of rows.entries()) {
  const hi = BUCKETS[b]!;
  const range = Number.isFinite(hi) ? `[${lo}, ${hi})` : `≥ ${lo}`;
  console.log(
    `| ${range} | ${((100 * r.n) / total).toFixed(1)}% | ${(r.sc / r.n).toFixed(3)} | ${(r.p / r.n).toFixed(3)} |`,
  );
  lo = hi;
}

function auroc(part: Part | "all"): string {
  // A sample with no position of this part has no mean: it takes part in no pair.
  const scored = groups.map((g) => g.filter((x) => !Number.isNaN(x.mean[part])));
  const a = withinGroupAuroc(
    scored.map((g) => ({ scores: g.map((x) => x.mean[part]), correct: g.map((x) => x.correct) })),
  );
  return a ? `${a.auroc.toFixed(3)} (${a.pairs} pairs)` : "n/a (no group with both)";
}
console.log(
  `\nmean sc_t over the ${window} characters after a hard step written right: ${(after.right.sc / after.right.n).toFixed(3)} (${after.right.n} steps); written wrong: ${(after.wrong.sc / after.wrong.n).toFixed(3)} (${after.wrong.n} steps)`,
);
console.log(
  `within-group AUROC of the mean sc_t against correctness: all positions ${auroc("all")}; digits only ${auroc("digit")}; other characters only ${auroc("other")}`,
);
