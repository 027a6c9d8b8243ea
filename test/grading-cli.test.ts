import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { Command } from "commander";
import { gradeJsonlText, registerGrade } from "../src/cli/grade.ts";

const fixture = join(import.meta.dirname, "fixtures", "grading", "pairs.jsonl");
const tmp = mkdtempSync(join(tmpdir(), "rlif-grade-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Runs `rlif grade …` on a fresh program; returns what it printed. */
async function run(...args: string[]): Promise<string> {
  let out = "";
  const program = new Command().exitOverride();
  registerGrade(program, { stdout: (s) => (out += s) });
  await program.parseAsync(["grade", ...args], { from: "user" });
  return out;
}

describe("rlif grade", () => {
  test("--pred/--gold prints true or false", async () => {
    assert.equal(await run("--pred", "2\\sqrt{2}", "--gold", "\\sqrt{8}"), "true\n");
    assert.equal(await run("--pred", "(1,2)", "--gold", "(2,1)"), "false\n");
  });

  test("--extract grades a full response", async () => {
    assert.equal(await run("--pred", "so $\\boxed{12}$", "--gold", "12", "--extract", "auto"), "true\n");
    assert.equal(await run("--pred", "so $\\boxed{12}$", "--gold", "12", "--extract", "gsm8k"), "false\n");
    await assert.rejects(run("--pred", "1", "--gold", "1", "--extract", "nope"), /unknown --extract mode/);
    // The gold goes through the same pipeline; auto falls back to the whole text.
    assert.equal(await run("--pred=-\\frac{10}{9}", "--gold", "$-10/9$", "--extract", "auto"), "true\n");
    assert.equal(await run("--pred", "so $x \\geq 5$.", "--gold", "$x >= 5$", "--extract", "auto"), "true\n");
  });

  test("--work-budget sets the work units of one comparison", async () => {
    // 2\sqrt{2} = \sqrt{8} needs a numeric evaluation: a few hundred units.
    assert.equal(
      await run("--pred", "2\\sqrt{2}", "--gold", "\\sqrt{8}", "--work-budget", "100000"),
      "true\n",
    );
    assert.equal(await run("--pred", "2\\sqrt{2}", "--gold", "\\sqrt{8}", "--work-budget", "10"), "false\n");
    const small = join(tmp, "small-budget.jsonl");
    await run("--jsonl", fixture, "--work-budget", "10", "--out", small);
    assert.deepEqual(
      readFileSync(small, "utf8")
        .trimEnd()
        .split("\n")
        .map((l) => JSON.parse(l).equal),
      [false, false, true, true], // equal as text needs no work
    );
    for (const bad of ["0", "-5", "1.5", "lots"]) {
      await assert.rejects(
        run("--pred", "1", "--gold", "1", "--work-budget", bad),
        /--work-budget must be a positive integer/,
      );
    }
  });

  test("--jsonl writes one line per input pair (blank lines skipped)", async () => {
    const lines = (await run("--jsonl", fixture))
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l));
    assert.deepEqual(lines, [
      { equal: true, pred_norm: "\\frac{1}{2}", gold_norm: "0.5" },
      { equal: false, pred_norm: "(1,2)", gold_norm: "(2,1)" },
      { equal: true, pred_norm: "1200", gold_norm: "1200" },
      { equal: true, pred_norm: "B", gold_norm: "B" },
    ]);
  });

  test("--out writes to a file instead", async () => {
    const out = join(tmp, "graded.jsonl");
    assert.equal(await run("--jsonl", fixture, "--out", out), "");
    assert.equal(readFileSync(out, "utf8").trimEnd().split("\n").length, 4);
  });

  test("a bad line is an error naming the file and the line", async () => {
    const bad = join(tmp, "bad.jsonl");
    writeFileSync(bad, '{"pred": "1", "gold": "1"}\n\n{"pred": "1", \n');
    await assert.rejects(run("--jsonl", bad), (e: Error) => e.message.startsWith(`${bad}:3: invalid JSON`));
    writeFileSync(bad, '{"pred": "1", "gold": "1"}\n{"pred": "2"}\n');
    await assert.rejects(
      run("--jsonl", bad),
      new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:2: missing field "gold"`),
    );
    assert.throws(() => gradeJsonlText("[1]\n", "x.jsonl"), /x\.jsonl:1: expected a JSON object/);
    assert.throws(() => gradeJsonlText('{"pred": null, "gold": "1"}', "x.jsonl"), /x\.jsonl:1: field "pred"/);
  });

  test("--jsonl streams: output is gradeJsonlText's, however large the input", async () => {
    const pairs = readFileSync(fixture, "utf8")
      .split("\n")
      .filter((l) => l.trim() !== "");
    const text = Array.from({ length: 5000 }, (_, i) => pairs[i % pairs.length]).join("\n");
    const big = join(tmp, "many.jsonl");
    writeFileSync(big, text);
    const want = gradeJsonlText(text, big);
    assert.equal(want.length, 5000);
    assert.equal(await run("--jsonl", big), `${want.join("\n")}\n`);
  });

  test("--out appears whole or not at all: a bad line leaves no file", async () => {
    const bad = join(tmp, "late-bad.jsonl");
    writeFileSync(bad, `${'{"pred": "1", "gold": "1"}\n'.repeat(3000)}{"pred": 1}\n`);
    const out = join(tmp, "late-bad.out");
    await assert.rejects(run("--jsonl", bad, "--out", out), /late-bad\.jsonl:3001: missing field "gold"/);
    assert.deepEqual(
      readdirSync(tmp).filter((f) => f.includes("late-bad.out")),
      [],
    );
  });

  test("--jsonl holds one line at a time, not the file (peak RSS in a child process)", (t) => {
    // 48 MB of lines padded with an ignored field: reading the file whole would add >= 48 MB.
    const big = join(tmp, "padded.jsonl");
    const line = `${JSON.stringify({ pred: "\\frac{1}{2}", gold: "0.5", pad: "x".repeat(10_000) })}\n`;
    writeFileSync(big, line.repeat(4800));
    const code = `
      import { Command } from "commander";
      import { registerGrade } from "./src/cli/grade.ts";
      const grade = (file, out) => {
        const program = new Command();
        registerGrade(program);
        return program.parseAsync(["grade", "--jsonl", file, "--out", out], { from: "user" });
      };
      await grade(${JSON.stringify(fixture)}, ${JSON.stringify(join(tmp, "warm.out"))});
      const before = process.resourceUsage().maxRSS;
      await grade(${JSON.stringify(big)}, ${JSON.stringify(join(tmp, "padded.out"))});
      console.log(JSON.stringify({ before, after: process.resourceUsage().maxRSS }));`;
    const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], {
      encoding: "utf8",
      cwd: join(import.meta.dirname, ".."),
    });
    assert.equal(r.status, 0, r.stderr);
    const { before, after } = JSON.parse(r.stdout) as { before: number; after: number };
    assert.equal(readFileSync(join(tmp, "padded.out"), "utf8").split("\n").length, 4801);
    const grewMb = (after - before) / 1024;
    t.diagnostic(`peak RSS grew ${grewMb.toFixed(1)} MB grading a 48 MB file`);
    assert.ok(grewMb < 24, `peak RSS grew ${grewMb.toFixed(1)} MB grading a 48 MB file`);
  });

  test("missing or conflicting arguments are errors", async () => {
    await assert.rejects(run("--pred", "1"), /give --pred and --gold/);
    await assert.rejects(run("--jsonl", fixture, "--pred", "1"), /either --jsonl or --pred/);
    await assert.rejects(run("--jsonl", join(tmp, "missing.jsonl")), /cannot read/);
  });
});
