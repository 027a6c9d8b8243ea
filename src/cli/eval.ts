// `rlif eval`: a model on one or more benchmarks, greedy and sampled, with a summary table.

import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type { Command } from "commander";
import { Random } from "../engine/random.ts";
import { type EvalSummary, evaluate, type TextCodec } from "../eval/evaluate.ts";
import { loadProblems, makeGrader, SOURCE_SYNTAX, type SourceProblem, withPrompt } from "../eval/sources.ts";
import { DEFAULT_WORKLOAD } from "../model/memory.ts";
import { openModel, TEMPLATES, type TemplateChoice } from "../model/open.ts";
import { SHIPPED_BENCHMARKS } from "../tasks/benchmarks.ts";
import { hasReflection, transitionalRate } from "../tasks/transitional.ts";
import { writeFileAtomic } from "../util/fs.ts";
import { startProgress } from "./progress.ts";

interface EvalFlags {
  model: string;
  bench: string[];
  limit?: string;
  k: string;
  temperature: string;
  topP: string;
  maxNewTokens: string;
  batchSize: string;
  seed: string;
  template: string;
  out?: string;
}

function num(name: string, v: string, integer = false): number {
  const x = Number(v);
  if (!Number.isFinite(x) || (integer && !Number.isInteger(x)) || x < 0)
    throw new Error(`--${name}: expected a non-negative ${integer ? "integer" : "number"}, got ${v}`);
  return x;
}

const pct = (x: number | undefined) =>
  x === undefined || Number.isNaN(x) ? "-" : `${(100 * x).toFixed(1)}%`;
const f3 = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? "-" : x.toFixed(3));

export function summaryTable(rows: { bench: string; s: EvalSummary }[], k: number): string {
  const head = ["benchmark", "n", "greedy", ...(k > 0 ? [`mean@${k}`, `pass@${k}`, `maj@${k}`] : [])];
  head.push("entropy", "self-cert", "len", "trans/100w", "reflect");
  const lines = rows.map(({ bench, s }) => {
    const st = s.sampled ?? s.greedy;
    const cells = [bench, String(s.n), pct(s.greedy_accuracy)];
    if (k > 0) cells.push(pct(s.mean_at_k), pct(s.pass_at_k?.[String(k)]), pct(s.maj_at_k));
    cells.push(
      f3(st.mean_token_entropy),
      f3(st.mean_self_certainty),
      st.mean_response_length.toFixed(1),
      st.transitional_rate.toFixed(2),
      pct(st.reflection_frac),
    );
    return cells;
  });
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join("  ");
  return [fmt(head), fmt(widths.map((w) => "-".repeat(w))), ...lines.map(fmt)].join("\n");
}

/** Each --bench source's problems (all of a file, 256 of an organism split, or --limit). */
function readSources(benches: string[], limitFlag: string | undefined) {
  const limit = limitFlag === undefined ? undefined : num("limit", limitFlag, true);
  if (limit === 0) throw new Error("--limit: must be at least 1");
  return benches.map((bench) => {
    const n = limit ?? (bench.startsWith("organism:") ? 256 : Number.MAX_SAFE_INTEGER);
    return { bench, problems: loadProblems(bench, n) };
  });
}

/** Templated prompts; one the model's context cannot hold (with room to answer) is skipped, and
 *  said so; a benchmark left with none is an error. */
function fitToContext(
  sources: { bench: string; problems: SourceProblem[] }[],
  prompt: (problem: string) => string,
  codec: TextCodec,
  context: number,
) {
  const room = context - 16;
  const limit = `${room} tokens (the model's context is ${context})`;
  return sources.map(({ bench, problems: raw }) => {
    const all = withPrompt(raw, prompt);
    const problems = all.filter((p) => codec.encode(p.prompt).length <= room);
    if (!problems.length) throw new Error(`${bench}: all ${all.length} problems have a prompt over ${limit}`);
    if (problems.length < all.length)
      console.error(
        `${bench}: skipped ${all.length - problems.length} of ${all.length} problems whose prompt exceeds ${limit}`,
      );
    return { bench, problems };
  });
}

/** One line per shipped benchmark: short name and what it is. */
export function shippedList(): string {
  return Object.entries(SHIPPED_BENCHMARKS)
    .map(([name, b]) => `  ${name.padEnd(11)} ${b.about} (${b.file})`)
    .join("\n");
}

export function registerEval(program: Command): void {
  program
    .command("eval")
    .description(
      "evaluate a model on benchmarks: greedy accuracy; with --k, mean@k, unbiased pass@k and maj@k;\n" +
        "response statistics (entropy, self-certainty, length, transitional words)",
    )
    .option("--model <dir>", "model folder or organism-base / organism-instruct", "organism-base")
    .option("--bench <sources...>", `benchmarks: ${SOURCE_SYNTAX}`, ["organism:test-id"])
    .option("--limit <n>", "problems per benchmark (default: all; organism splits: 256)")
    .option("--k <n>", "samples per problem besides greedy (0 = greedy only)", "0")
    .option("--temperature <t>", "sampling temperature of the k samples", "1")
    .option("--top-p <p>", "nucleus mass of the k samples", "1")
    .option("--max-new-tokens <n>", "response length limit", "160")
    .option("--batch-size <n>", "sequences sampled together", "64")
    .option("--seed <n>", "sampling seed", "0")
    .option("--template <kind>", "prompt template: auto | base | instruct", "auto")
    .option("--out <file>", "write per-problem records and summaries as JSON")
    .addHelpText("after", `\nshipped benchmarks (data/benchmarks):\n${shippedList()}`)
    .action(async (o: EvalFlags) => {
      if (!(TEMPLATES as string[]).includes(o.template)) throw new Error(`--template: unknown ${o.template}`);
      const k = num("k", o.k, true);
      const sampling = {
        temperature: num("temperature", o.temperature),
        topP: num("top-p", o.topP),
        maxNewTokens: num("max-new-tokens", o.maxNewTokens, true),
        batchSize: num("batch-size", o.batchSize, true),
        seed: num("seed", o.seed, true),
      };
      // Every source is read and checked before the model is loaded or anything evaluated.
      const sources = readSources(o.bench, o.limit);
      const opened = openModel(o.model, {
        template: o.template as TemplateChoice,
        fit: {
          purpose: "eval",
          workload: { ...DEFAULT_WORKLOAD, evalBatch: sampling.batchSize, newTokens: sampling.maxNewTokens },
        },
      });
      const { model, codec, kind, folder: dir } = opened;
      console.error(`model: ${opened.describe}`);
      const benches = fitToContext(sources, opened.prompt, codec, model.config.max_position_embeddings);
      const rows: { bench: string; s: EvalSummary }[] = [];
      const results: Record<string, unknown> = {};
      for (const { bench, problems } of benches) {
        // cli-progress's default schedule off a terminal (2 s): evaluations are short.
        const bar = startProgress(
          `${bench} [{bar}] {value}/{total} sequences | eta {eta_formatted}`,
          problems.length * (1 + k),
          {},
          2000,
        );
        try {
          const r = await evaluate(model, codec, problems, {
            k,
            temperature: sampling.temperature,
            topP: sampling.topP,
            maxNewTokens: sampling.maxNewTokens,
            batchSize: sampling.batchSize,
            rng: new Random(sampling.seed),
            grade: makeGrader(bench),
            transitionalRate,
            hasReflection,
            onProgress: (done) => bar.update(done),
          });
          rows.push({ bench, s: r.summary });
          results[bench] = r;
        } finally {
          bar.stop();
        }
      }
      console.log(`\n${dir} (${kind} template)\n${summaryTable(rows, k)}`);
      if (o.out) {
        mkdirSync(dirname(o.out), { recursive: true });
        writeFileAtomic(o.out, JSON.stringify({ model: dir, template: kind, k, results }, null, 1));
        console.log(`wrote ${o.out}`);
      }
    });
}
