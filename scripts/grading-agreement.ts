// Agreement of rlif's grader with Math-Verify's judgements on pairs drawn from that project's
// public regression tests (test/fixtures/grading/math-verify-agreement.jsonl; provenance and the
// split in that folder's README). Prints, per category and split, how often each way of calling
// the grader gives Math-Verify's verdict, and the false positives (Math-Verify: different,
// rlif: equal), the error that matters for a reward.
//
// Usage: node --import tsx scripts/grading-agreement.ts [--split heldout|dev|all] [--misses]

import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { DEFAULT_WORK_BUDGET, type GradeResult, gradeAnswer, gradeResponse } from "../src/grading/index.ts";

export interface AgreementCase {
  id: string;
  split: "dev" | "heldout";
  category: string;
  expected: 0 | 1;
  gold: string;
  pred: string;
  source: string;
}

export const AGREEMENT_FILE = new URL(
  "../test/fixtures/grading/math-verify-agreement.jsonl",
  import.meta.url,
);

export function loadAgreementCases(): AgreementCase[] {
  return readFileSync(AGREEMENT_FILE, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as AgreementCase);
}

/**
 * The two ways of calling the grader: `gradeAnswer` (the prediction taken as the answer itself)
 * and `gradeResponse` (the answer extracted from the response, as `--extract auto` does).
 */
export const WAYS: Record<string, (c: AgreementCase) => GradeResult> = {
  answer: (c) => gradeAnswer(c.pred, c.gold),
  response: (c) => gradeResponse(c.pred, c.gold),
};

interface Tally {
  n: number;
  agree: number;
  fp: number;
  ms: number;
}

function main(): void {
  const { values } = parseArgs({
    options: { split: { type: "string", default: "heldout" }, misses: { type: "boolean", default: false } },
  });
  const split = values.split ?? "heldout";
  const cases = loadAgreementCases().filter((c) => split === "all" || c.split === split);
  const ways = Object.keys(WAYS);
  const byCat = new Map<string, Map<string, Tally>>();
  const misses: string[] = [];
  let worst = 0;
  let mostWork = 0;
  gradeAnswer("\\sin x", "\\cos x"); // load mathjs once: a start-up cost, not a per-pair one
  for (const c of cases) {
    for (const cat of [c.category, "all"]) {
      if (!byCat.has(cat)) byCat.set(cat, new Map(ways.map((w) => [w, { n: 0, agree: 0, fp: 0, ms: 0 }])));
    }
    for (const w of ways) {
      const t0 = performance.now();
      const r = WAYS[w]!(c);
      const ms = performance.now() - t0;
      const got = r.equal;
      worst = Math.max(worst, ms);
      mostWork = Math.max(mostWork, r.work);
      for (const cat of [c.category, "all"]) {
        const t = byCat.get(cat)!.get(w)!;
        t.n++;
        t.ms += ms;
        if (got === (c.expected === 1)) t.agree++;
        else if (got) t.fp++;
      }
      if (w === "response" && got !== (c.expected === 1) && values.misses) {
        misses.push(
          `${c.id} [${c.category}] expected ${c.expected}: gold ${JSON.stringify(c.gold.slice(-120))} pred ${JSON.stringify(c.pred.slice(-160))}`,
        );
      }
    }
  }
  const cats = [...byCat.keys()].filter((k) => k !== "all").sort();
  const header = `| category (${split}) | pairs | ${ways.map((w) => `${w} agree (FP)`).join(" | ")} |`;
  const lines = [header, `| --- | ---: | ${ways.map(() => "---:").join(" | ")} |`];
  for (const cat of [...cats, "all"]) {
    const row = byCat.get(cat)!;
    const n = row.get(ways[0]!)!.n;
    const cells = ways.map((w) => {
      const t = row.get(w)!;
      return `${t.agree}/${t.n} = ${((100 * t.agree) / t.n).toFixed(0)}% (${t.fp})`;
    });
    lines.push(`| ${cat === "all" ? "**all**" : cat} | ${n} | ${cells.join(" | ")} |`);
  }
  console.log(lines.join("\n"));
  console.log(`\nmost work of a single call: ${mostWork} units (budget ${DEFAULT_WORK_BUDGET})`);
  console.log(`slowest single call: ${worst.toFixed(1)} ms (wall clock, after loading mathjs)`);
  if (misses.length > 0) console.log(`\ngradeResponse disagreements:\n${misses.join("\n")}`);
}

if (import.meta.url === `file://${process.argv[1]}`) main();
