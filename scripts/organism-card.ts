// Measures the numbers of the organisms' model cards (docs/organism.md). For each model and held-out
// split: greedy accuracy and k samples per problem at temperature 1 (top-p 1), with the v1 card's
// columns (entropy, length, transitional words, reflection), and the v2 card's figures
// (src/analysis/organism-card.ts): within-group AUROC of self-certainty, −token entropy and mean
// log-p against correctness; where the model reflects and whether reflection fixes more than
// chance; accuracy with reflection blocked at decoding time (tasks/reflection-block.ts; same
// problems, same seed), blocked − unblocked with paired intervals; failure modes.
//
// Usage: node --import tsx scripts/organism-card.ts [--models a,b] [--splits test-id,test-ood]
//   [--limit 256] [--k 8] [--max-new-tokens 200] [--block auto|on|off] [--threads N] [--out FILE]
// Defaults by model: v2 organisms (folder name organism-v2-*) get --splits test-id and the block;
// others (v1) both splits and no block (v1's corpus opens non-reflection sentences with those
// letters too, "Answer: …"). --out is required unless --models is the default v1 pair.

import { basename } from "node:path";
import { parseArgs } from "node:util";
import { type CardRow, cardRow, cardTables } from "../src/analysis/organism-card.ts";
import { initBackend } from "../src/cli/backend.ts";
import { startProgress } from "../src/cli/progress.ts";
import { Random } from "../src/engine/random.ts";
import { type EvalOptions, type EvalProblem, evaluate, type TextCodec } from "../src/eval/evaluate.ts";
import { loadProblems, makeGrader, withTemplate } from "../src/eval/sources.ts";
import { openModel, tokenizerDir } from "../src/model/open.ts";
import { loadTokenizer } from "../src/model/tokenizer.ts";
import type { Transformer } from "../src/model/transformer.ts";
import { reflectionBlock } from "../src/tasks/reflection-block.ts";
import { hasReflection, transitionalRate } from "../src/tasks/transitional.ts";
import { writeFileAtomic } from "../src/util/fs.ts";

const V1_MODELS = "organism-base,organism-instruct";
const { values } = parseArgs({
  options: {
    models: { type: "string", default: V1_MODELS },
    splits: { type: "string" },
    limit: { type: "string", default: "256" },
    k: { type: "string", default: "8" },
    "max-new-tokens": { type: "string", default: "200" },
    block: { type: "string", default: "auto" },
    out: { type: "string" },
    threads: { type: "string" },
  },
});

function fail(message: string): never {
  console.error(`organism-card: ${message}`);
  process.exit(2);
}
function positiveInt(name: string, v: string | undefined): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) fail(`--${name} must be a positive integer, got ${v}`);
  return n;
}
const limit = positiveInt("limit", values.limit);
const k = positiveInt("k", values.k);
const maxNewTokens = positiveInt("max-new-tokens", values["max-new-tokens"]);
if (!["auto", "on", "off"].includes(values.block!))
  fail(`--block must be auto, on or off, got ${values.block}`);
if (k < 2)
  console.error("note: with --k 1 no problem has both right and wrong samples, so there is no AUROC");
const out = values.out ?? (values.models === V1_MODELS ? "docs/organism-eval.json" : undefined);
if (!out) fail("--out FILE is required with --models (the default file holds the v1 card)");

const threads = values.threads === undefined ? undefined : positiveInt("threads", values.threads);
await initBackend("auto", threads);
const rows: CardRow[] = [];

async function run(
  model: Transformer,
  codec: TextCodec,
  problems: EvalProblem[],
  label: string,
  o: Omit<EvalOptions, "onProgress">,
) {
  const bar = startProgress(
    `${label} [{bar}] {value}/{total} sequences | eta {eta_formatted}`,
    problems.length * (1 + k),
  );
  try {
    return await evaluate(model, codec, problems, { ...o, onProgress: (done) => bar.update(done) });
  } finally {
    bar.stop();
  }
}

for (const name of values.models!.split(",")) {
  const { model, codec, kind, folder } = openModel(name);
  const v2 = basename(folder).startsWith("organism-v2");
  const splits = (values.splits ?? (v2 ? "test-id" : "test-id,test-ood")).split(",");
  const block =
    values.block === "on" || (values.block === "auto" && v2)
      ? reflectionBlock(loadTokenizer(tokenizerDir(folder)))
      : undefined;
  for (const split of splits) {
    const source = `organism:${split}`;
    const problems = withTemplate(loadProblems(source, limit), kind);
    const o: Omit<EvalOptions, "onProgress" | "rng"> = {
      k,
      temperature: 1,
      topP: 1,
      maxNewTokens,
      batchSize: 128,
      grade: makeGrader(source),
      transitionalRate,
      hasReflection,
    };
    const t0 = performance.now();
    const plain = await run(model, codec, problems, `${name} ${split}`, { ...o, rng: new Random(0) });
    const t1 = performance.now();
    // The same problems and seed, decoded with the block (op by op: slower than the fused decoder).
    const blocked = block
      ? await run(model, codec, problems, `${name} ${split} blocked`, { ...o, rng: new Random(0), block })
      : null;
    const seconds = {
      seconds: (t1 - t0) / 1000,
      ...(blocked ? { seconds_blocked: (performance.now() - t1) / 1000 } : {}),
    };
    const row = cardRow(
      { model: name, split, k, max_new_tokens: maxNewTokens, ...seconds },
      plain.records,
      plain.summary,
      blocked?.records ?? null,
    );
    rows.push(row);
    console.error(JSON.stringify(row));
  }
}
console.log(cardTables(rows));
writeFileAtomic(
  out,
  `${JSON.stringify({ date: new Date().toISOString(), command: process.argv.slice(2), rows }, null, 2)}\n`,
);
console.error(`wrote ${out}`);
process.exit(0);
