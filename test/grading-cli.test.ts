import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
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

  test("missing or conflicting arguments are errors", async () => {
    await assert.rejects(run("--pred", "1"), /give --pred and --gold/);
    await assert.rejects(run("--jsonl", fixture, "--pred", "1"), /either --jsonl or --pred/);
    await assert.rejects(run("--jsonl", join(tmp, "missing.jsonl")), /cannot read/);
  });
});
