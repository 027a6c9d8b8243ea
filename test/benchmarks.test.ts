import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { loadProblems } from "../src/eval/sources.ts";
import {
  BENCHMARK_NAMES,
  BENCHMARKS_DIR,
  benchmarkPath,
  listBenchmarks,
  loadJsonlProblems,
  MAX_PROBLEM_CHARS,
  SHIPPED_BENCHMARKS,
} from "../src/tasks/benchmarks.ts";
import { MAX_LINE_BYTES } from "../src/util/jsonl.ts";

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
    for (const text of ["", "\n  \n\n"]) {
      const p = file("empty.jsonl", text);
      assert.throws(() => loadJsonlProblems(p), new RegExp(`^Error: ${p}: no problems`));
    }
    const long = file(
      "long.jsonl",
      `{"problem": "1+1?", "answer": "2"}\n${JSON.stringify({ problem: "x".repeat(MAX_PROBLEM_CHARS + 1), answer: "1" })}\n`,
    );
    assert.throws(
      () => loadJsonlProblems(long),
      (e: Error) =>
        e.message.startsWith(`${long}:2: "problem" is`) &&
        e.message.includes(`limit of ${MAX_PROBLEM_CHARS}`),
    );
    assert.equal(
      loadJsonlProblems(
        file("ok.jsonl", JSON.stringify({ problem: "x".repeat(MAX_PROBLEM_CHARS), answer: "1" })),
      ).length,
      1,
    );
    const huge = file(
      "huge.jsonl",
      `{"problem": "1+1?", "answer": "2"}\n{"problem": "${"y".repeat(MAX_LINE_BYTES)}", "answer": "1"}\n`,
    );
    assert.throws(
      () => loadJsonlProblems(huge),
      new RegExp(`^Error: ${huge}:2: line longer than the limit of ${MAX_LINE_BYTES} bytes`),
    );
    assert.throws(
      () => loadJsonlProblems(join(tmp, "nope.jsonl")),
      /cannot read benchmark file .*nope\.jsonl/,
    );
  });
});

describe("listBenchmarks", () => {
  test("lists *.jsonl files by name", () => {
    const d = join(tmp, "bench");
    mkdirSync(d);
    writeFileSync(join(d, "b.jsonl"), "");
    writeFileSync(join(d, "a.jsonl"), "");
    writeFileSync(join(d, "README.md"), "");
    assert.deepEqual(listBenchmarks(d), [
      { name: "a", path: join(d, "a.jsonl") },
      { name: "b", path: join(d, "b.jsonl") },
    ]);
    assert.throws(() => listBenchmarks(join(tmp, "absent")), /benchmarks folder not found/);
  });
});

describe("the shipped benchmarks (data/benchmarks)", () => {
  const readme = readFileSync(join(BENCHMARKS_DIR, "README.md"), "utf8");

  test("every file loads, with the row count and sha256 its README states", () => {
    const rows = [...readme.matchAll(/^\| `(\w+)\.jsonl` +\| +(\d+) \| `([0-9a-f]{64})` \|$/gm)];
    assert.equal(rows.length, 6, "the README's file table");
    assert.deepEqual(
      rows.map((r) => r[1]).sort(),
      listBenchmarks().map((f) => f.name),
    );
    for (const [, name, count, sha] of rows) {
      const path = join(BENCHMARKS_DIR, `${name}.jsonl`);
      assert.equal(createHash("sha256").update(readFileSync(path)).digest("hex"), sha, `${name}: sha256`);
      const probs = loadJsonlProblems(path);
      assert.equal(probs.length, Number(count), name);
      assert.equal(new Set(probs.map((p) => p.id)).size, probs.length, `${name}: unique ids`);
    }
    const m = loadJsonlProblems(join(BENCHMARKS_DIR, "math500.jsonl"));
    assert.equal(m[0]!.id, "test/precalculus/807.json");
    assert.equal(m[0]!.answer, "\\left( 3, \\frac{\\pi}{2} \\right)");
    assert.equal(m[0]!.source, "math500");
  });

  test("each short name is a shipped file whose source and licence the README states", () => {
    for (const name of BENCHMARK_NAMES) {
      const path = benchmarkPath(name);
      assert.equal(path, join(BENCHMARKS_DIR, SHIPPED_BENCHMARKS[name].file));
      assert.ok(existsSync(path), path);
      const section = readme.split(/^## /m).find((s) => s.startsWith(`${SHIPPED_BENCHMARKS[name].file} `));
      assert.ok(section, `${name}: a README section`);
      assert.match(section, /^- (Canonical s|S)ource: \S/m, `${name}: source`);
      assert.match(section, /License: [^\n]*MIT/, `${name}: licence`);
    }
    // The short name table at the top names every one.
    for (const name of BENCHMARK_NAMES) assert.match(readme, new RegExp(`\\| \`${name}\` \\|`));
  });

  test("short names load through loadProblems; an unknown name lists the valid ones", () => {
    const two = loadProblems("math500", 2);
    assert.deepEqual(
      two.map((p) => p.id),
      ["test/precalculus/807.json", "test/intermediate_algebra/1994.json"],
    );
    assert.equal(loadProblems("gsm8k", 1)[0]!.id, "gsm8k/test/0");
    assert.throws(
      () => loadProblems("math5000", 2),
      (e: Error) =>
        /unknown benchmark "math5000"/.test(e.message) &&
        [...BENCHMARK_NAMES, "organism:test-id"].every((n) => e.message.includes(n)),
    );
    // Something that looks like a path stays a path, with the read error.
    assert.throws(() => loadProblems(join(tmp, "math500.jsonl"), 2), /cannot read benchmark file .*ENOENT/);
  });
});
