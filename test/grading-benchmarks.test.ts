// Every gold answer of the shipped benchmarks (data/benchmarks): its rewritten equivalent forms must grade
// equal to it (directly, and extracted from a full response), its perturbed forms must not.

import assert from "node:assert/strict";
import { test } from "node:test";
import { DEFAULT_WORK_BUDGET, gradeAnswer, gradeResponse } from "../src/grading/index.ts";
import { listBenchmarks, loadJsonlProblems } from "../src/tasks/benchmarks.ts";
import { variantsOf } from "./fixtures/grading/rewrite.ts";

test("gold answers: rewritten forms grade equal, perturbed forms do not", (t) => {
  const t0 = performance.now();
  const failures: string[] = [];
  let golds = 0;
  let rewrites = 0;
  let responses = 0;
  let perturbed = 0;
  let noRewrite = 0;
  let noPerturbation = 0;
  let mostWork = 0;
  const files = listBenchmarks();
  assert.ok(files.length > 0, "no shipped .jsonl files");
  for (const f of files) {
    for (const p of loadJsonlProblems(f.path)) {
      golds++;
      const v = variantsOf(p.answer);
      // "spaces" and "trailing period" apply to every answer; count those with nothing more.
      if (v.equivalent.length <= 2) noRewrite++;
      if (v.perturbed.length === 0) noPerturbation++;
      for (const [kind, e] of v.equivalent) {
        rewrites++;
        const g = gradeAnswer(e, p.answer);
        mostWork = Math.max(mostWork, g.work);
        if (!g.equal)
          failures.push(`${p.id} ${kind}: ${JSON.stringify(e)} should equal ${JSON.stringify(p.answer)}`);
      }
      for (const [kind, r] of v.responses) {
        responses++;
        const g = gradeResponse(r, p.answer);
        mostWork = Math.max(mostWork, g.work);
        if (!g.equal) {
          failures.push(`${p.id} response ${kind}: ${JSON.stringify(r)} should grade equal`);
        }
      }
      for (const [kind, e] of v.perturbed) {
        perturbed++;
        const g = gradeAnswer(e, p.answer);
        mostWork = Math.max(mostWork, g.work);
        if (g.equal) {
          failures.push(
            `${p.id} ${kind}: ${JSON.stringify(e)} should differ from ${JSON.stringify(p.answer)}`,
          );
        }
      }
    }
  }
  const total = rewrites + responses + perturbed;
  const pct = (100 * (total - failures.length)) / total;
  t.diagnostic(
    `${golds} gold answers in ${files.length} files: ${rewrites} rewrites, ${responses} responses, ` +
      `${perturbed} perturbations; pass rate ${pct.toFixed(2)}% (${failures.length} failures); ` +
      `${noRewrite} with no rewrite beyond spacing/period, ${noPerturbation} with no perturbation; ` +
      `most work of one comparison ${mostWork} units (budget ${DEFAULT_WORK_BUDGET}); ` +
      `${(performance.now() - t0).toFixed(0)} ms`,
  );
  assert.deepEqual(failures.slice(0, 30), []);
  assert.equal(noPerturbation, 0, "every gold answer should have at least one perturbation");
  // The default work budget is generous: no comparison comes near it (docs/grading.md, Bounds).
  assert.ok(mostWork < DEFAULT_WORK_BUDGET / 100, `${mostWork} work units`);
});

test("reference solutions: their extracted answer grades equal to the gold answer", (t) => {
  const rates: string[] = [];
  for (const f of listBenchmarks()) {
    const probs = loadJsonlProblems(f.path).filter((p) => typeof p.solution === "string");
    if (probs.length === 0) continue;
    // MATH solutions end in a box; GSM8K solutions (their "#### n" line removed) end in the number.
    const mode = probs[0]!.source === "gsm8k" ? "last-number" : "boxed";
    const wrong = probs.filter((p) => !gradeResponse(p.solution as string, p.answer, { mode }).equal);
    rates.push(`${f.name} (${mode}) ${probs.length - wrong.length}/${probs.length}`);
    if (f.name === "math500" || f.name === "train") {
      // The folder's README: the answer is the content of the solution's last box, 500/500.
      assert.deepEqual(
        wrong.map((p) => p.id),
        [],
        `${f.name}: boxed answers of the solutions`,
      );
    } else {
      // A few GSM8K solutions end on another number, or write 118 000 with a space.
      assert.ok(wrong.length <= 0.05 * probs.length, `${f.name}: ${wrong.length} of ${probs.length} differ`);
    }
  }
  t.diagnostic(`solutions graded equal: ${rates.join(", ")}`);
});
