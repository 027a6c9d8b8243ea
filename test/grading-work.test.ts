// The grader is bounded by counted work, never by a clock: the same pair gets the same verdict,
// and spends the same work, on a quiet machine, a loaded one, or one whose clock jumps; and a
// pathological pair runs out of budget at the same point every time.

import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { describe, test } from "node:test";
import { loadAgreementCases } from "../scripts/grading-agreement.ts";
import {
  DEFAULT_WORK_BUDGET,
  equivalenceWork,
  gradeResponse,
  type MeteredVerdict,
} from "../src/grading/index.ts";
import { PATHOLOGICAL, setOf } from "./helpers/grading-pathological.ts";

// Pairs seen to grade differently under machine load with the former wall-clock budget, and
// larger ones that need real work (a 40-item set of expressions: about 10^6 units).
const PAIRS: [string, string][] = [
  ["x^2+1", "1+x^2"],
  ["52.0", "52"],
  ["\\frac{500}{2}", "250"],
  ["2x+4y-3=0", "y=-\\frac12x+\\frac34"],
  ["x \\ge 5", "5 \\le x"],
  ["\\frac{1}{2004!}", "\\frac{2005}{2005!}"],
  [setOf(40, (k) => `(x+${k})^{3}(y-${k})`), setOf(40, (k) => `(x+${39 - k})^{3}(y-${39 - k})+0`)],
];

const cases = loadAgreementCases();

/** Verdict and work of every pair above and of every agreement-set response. */
function verdicts(): MeteredVerdict[] {
  const out = PAIRS.map(([a, b]) => equivalenceWork(a, b));
  for (const c of cases) {
    const r = gradeResponse(c.pred, c.gold);
    out.push({ equal: r.equal, used: r.work, exhausted: false });
  }
  return out;
}

const quiet = verdicts();

/** Runs f with every clock the grader could read jumping 10 s at each reading. */
function withJumpingClocks<T>(f: () => T): T {
  let fake = 0;
  const tick = (): number => (fake += 10_000);
  const saved = { now: performance.now, dateNow: Date.now, hrtime: process.hrtime };
  performance.now = tick;
  Date.now = tick;
  const hrtime = ((prev?: [number, number]) => {
    const ms = tick();
    const t: [number, number] = [Math.floor(ms / 1000), (ms % 1000) * 1e6];
    return prev === undefined ? t : [t[0] - prev[0], t[1] - prev[1]];
  }) as typeof process.hrtime;
  hrtime.bigint = () => BigInt(tick()) * 1_000_000n;
  process.hrtime = hrtime;
  try {
    return f();
  } finally {
    performance.now = saved.now;
    Date.now = saved.dateNow;
    process.hrtime = saved.hrtime;
  }
}

/** Starts `n` processes that spin on a CPU each until killed (at most 120 s). */
async function burners(n: number): Promise<ChildProcess[]> {
  const spin = "process.stdout.write('go');const end=Date.now()+120000;while(Date.now()<end){}";
  const procs = Array.from({ length: n }, () => spawn(process.execPath, ["-e", spin]));
  await Promise.all(procs.map((p) => once(p.stdout!, "data")));
  return procs;
}

describe("work budget: verdicts never depend on the machine", () => {
  test("the same verdicts and work when every clock jumps 10 s per reading", () => {
    assert.ok(quiet.some((v) => v.used > 100_000) && quiet.some((v) => v.equal));
    assert.deepEqual(withJumpingClocks(verdicts), quiet);
  });

  test("the same verdicts and work while other processes burn the CPUs", async () => {
    const procs = await burners(2);
    try {
      assert.deepEqual(verdicts(), quiet);
    } finally {
      for (const p of procs) p.kill();
    }
  });

  test("a budget of exactly the work a pair needs suffices; one unit less does not", () => {
    for (const [a, b] of PAIRS) {
      const full = equivalenceWork(a, b);
      assert.equal(full.exhausted, false);
      assert.deepEqual(equivalenceWork(a, b, { workBudget: full.used }), full, `${a} vs ${b}`);
      const short = equivalenceWork(a, b, { workBudget: full.used - 1 });
      assert.deepEqual([short.equal, short.exhausted], [false, true], `${a} vs ${b}`);
    }
  });

  test("a pathological pair exhausts the budget at the same point on every run", () => {
    const [a, b] = PATHOLOGICAL.factorials;
    const runs = [
      equivalenceWork(a, b),
      equivalenceWork(a, b),
      withJumpingClocks(() => equivalenceWork(a, b)),
    ];
    for (const r of runs) assert.deepEqual(r, runs[0]);
    const r = runs[0]!;
    assert.deepEqual([r.equal, r.exhausted], [false, true]);
    // It stops within one charge of the budget (the largest charge is well under 10^5 units).
    assert.ok(r.used > DEFAULT_WORK_BUDGET && r.used < DEFAULT_WORK_BUDGET + 100_000, `${r.used} units`);
  });

  test("the verdict of a large pair is a function of the budget alone", () => {
    const [a, b] = PATHOLOGICAL.equations;
    const small = equivalenceWork(a, b);
    assert.deepEqual([small.equal, small.exhausted], [false, true]);
    const big = equivalenceWork(a, b, { workBudget: 2 * DEFAULT_WORK_BUDGET });
    assert.deepEqual([big.equal, big.exhausted], [true, false]);
    assert.deepEqual(equivalenceWork(a, b, { workBudget: 2 * DEFAULT_WORK_BUDGET }), big);
  });
});
