// Agreement with Math-Verify's judgements (test/fixtures/grading/README.md): the held-out part
// must agree on at least 90% of pairs, and no pair Math-Verify calls different may grade equal
// (a false positive is a wrong answer rewarded). docs/grading.md has the table by category.

import assert from "node:assert/strict";
import { test } from "node:test";
import { loadAgreementCases, WAYS } from "../scripts/grading-agreement.ts";
import { DEFAULT_WORK_BUDGET } from "../src/grading/index.ts";

const cases = loadAgreementCases();

test("agreement set: 270 pairs, both splits, every category held out", () => {
  assert.equal(cases.length, 270);
  const held = cases.filter((c) => c.split === "heldout");
  assert.equal(held.length, 96);
  const cats = new Set(cases.map((c) => c.category));
  for (const cat of cats) {
    if (cat === "rounding") continue; // two pairs, both fell in dev
    assert.ok(
      held.some((c) => c.category === cat),
      `no held-out pair in ${cat}`,
    );
  }
});

test("held-out agreement with Math-Verify >= 90%, and no false positive anywhere", (t) => {
  const notes: string[] = [];
  for (const [way, grade] of Object.entries(WAYS)) {
    let agree = 0;
    const fps: string[] = [];
    const held = cases.filter((c) => c.split === "heldout");
    for (const c of cases) {
      const r = grade(c);
      const got = r.equal;
      // The default work budget is generous: no pair comes near it (docs/grading.md, Bounds).
      assert.ok(r.work < DEFAULT_WORK_BUDGET / 100, `${way} ${c.id}: ${r.work} work units`);
      if (c.split === "heldout" && got === (c.expected === 1)) agree++;
      if (got && c.expected === 0) fps.push(c.id);
    }
    assert.deepEqual(fps, [], `${way}: false positives`);
    notes.push(`${way} ${agree}/${held.length}`);
    if (way === "response")
      assert.ok(agree >= 0.9 * held.length, `response: ${agree}/${held.length} held out`);
  }
  t.diagnostic(`held-out agreement: ${notes.join(", ")}`);
});
