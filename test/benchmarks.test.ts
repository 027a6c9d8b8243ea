import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { benchmarksDir, listBenchmarks, loadJsonlProblems } from "../src/tasks/benchmarks.ts";

const tmp = mkdtempSync(join(tmpdir(), "rlif-bench-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const p = join(tmp, name);
  writeFileSync(p, text);
  return p;
}

describe("loadJsonlProblems", () => {
  test("reads problems, keeps extra fields, defaults id and source, skips blank lines", () => {
    const p = file(
      "mini.jsonl",
      '{"id": "a", "problem": "1+1?", "answer": "2", "source": "toy", "level": 3}\n\n' +
        '{"problem": "2+2?", "answer": 4}\n   \n',
    );
    const got = loadJsonlProblems(p);
    assert.deepEqual(got, [
      { id: "a", problem: "1+1?", answer: "2", source: "toy", level: 3 },
      { id: "mini.jsonl:3", problem: "2+2?", answer: "4", source: "mini" },
    ]);
  });

  test("errors name the file and the line", () => {
    const cases: Array<[string, RegExp]> = [
      ['{"problem": "x", "answer": "1"}\n{"problem": "y", "answer": "2"\n', /:2: invalid JSON/],
      ['{"problem": "x", "answer": "1"}\n\n{"answer": "2"}\n', /:3: missing or empty string field "problem"/],
      ['{"problem": "x"}\n', /:1: missing field "answer"/],
      ['{"problem": "x", "answer": ""}\n', /:1: empty "answer"/],
      ['{"problem": "x", "answer": null}\n', /:1: missing field "answer"/],
      ["[1, 2]\n", /:1: expected a JSON object/],
      ['{"problem": "x", "answer": "1", "id": {}}\n', /:1: field "id"/],
    ];
    for (const [text, re] of cases) {
      const p = file("bad.jsonl", text);
      assert.throws(
        () => loadJsonlProblems(p),
        (e: Error) => e.message.startsWith(`${p}:`) && re.test(e.message),
      );
    }
    assert.throws(
      () => loadJsonlProblems(join(tmp, "nope.jsonl")),
      /cannot read benchmark file .*nope\.jsonl/,
    );
  });
});

describe("listBenchmarks", () => {
  test("lists *.jsonl files by name; RLIF_BENCHMARKS overrides the folder", () => {
    const d = join(tmp, "bench");
    mkdirSync(d);
    writeFileSync(join(d, "b.jsonl"), "");
    writeFileSync(join(d, "a.jsonl"), "");
    writeFileSync(join(d, "README.md"), "");
    assert.deepEqual(listBenchmarks(d), [
      { name: "a", path: join(d, "a.jsonl") },
      { name: "b", path: join(d, "b.jsonl") },
    ]);
    const old = process.env.RLIF_BENCHMARKS;
    process.env.RLIF_BENCHMARKS = d;
    try {
      assert.equal(benchmarksDir(), d);
      assert.equal(listBenchmarks().length, 2);
    } finally {
      if (old === undefined) delete process.env.RLIF_BENCHMARKS;
      else process.env.RLIF_BENCHMARKS = old;
    }
    assert.throws(() => listBenchmarks(join(tmp, "absent")), /benchmarks folder not found/);
  });

  const shared = benchmarksDir();
  test("the shared benchmark files load as they are", {
    skip: existsSync(shared) ? false : `benchmarks folder ${shared} is absent`,
  }, () => {
    // Row counts from the folder's README.
    const expected: Record<string, number> = {
      aime24: 30,
      aime25: 30,
      amc23: 40,
      gsm8k_test: 1319,
      math500: 500,
      train: 500,
    };
    const files = listBenchmarks(shared);
    for (const [name, rows] of Object.entries(expected)) {
      const f = files.find((x) => x.name === name);
      assert.ok(f, `${name}.jsonl listed`);
      const probs = loadJsonlProblems(f.path);
      assert.equal(probs.length, rows, name);
      assert.equal(new Set(probs.map((p) => p.id)).size, rows, `${name}: unique ids`);
    }
    const m = loadJsonlProblems(files.find((x) => x.name === "math500")!.path);
    assert.equal(m[0]!.id, "test/precalculus/807.json");
    assert.equal(m[0]!.answer, "\\left( 3, \\frac{\\pi}{2} \\right)");
    assert.equal(m[0]!.source, "math500");
  });
});
