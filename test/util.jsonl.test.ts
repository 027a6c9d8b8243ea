// Chunked JSONL reading: lines come out as text.split("\n") would give them, whatever the chunk
// size (multi-byte characters split across chunks included), and a line over the limit is an
// error naming file:line as soon as the limit is passed.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { Random } from "../src/engine/random.ts";
import { fileLines, jsonlObjects } from "../src/util/jsonl.ts";

const tmp = mkdtempSync(join(tmpdir(), "rlif-jsonl-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe("fileLines", () => {
  test("equals split('\\n') for any chunk size, with multi-byte text and CRLF", () => {
    const rng = new Random(3);
    const alphabet = ["a", "\n", "é", "€", "𝔸", "\r\n", "{", "\\"];
    let text = "";
    for (let i = 0; i < 3000; i++) text += alphabet[Math.floor(rng.next() * alphabet.length)];
    for (const [name, t] of [
      ["mixed", text],
      ["trailing-newline", `${text}\n`],
      ["empty", ""],
    ] as const) {
      const p = join(tmp, `${name}.txt`);
      writeFileSync(p, t);
      const want = t.split("\n");
      if (want.at(-1) === "") want.pop(); // no empty line after a final "\n"
      for (const chunk of [1, 2, 3, 7, 64, 1 << 16]) {
        assert.deepEqual([...fileLines(p, 1 << 20, chunk)], want, `${name}, chunk ${chunk}`);
      }
    }
  });

  test("a line over the limit is an error with file:line, raised before the rest is read", () => {
    const p = join(tmp, "long.jsonl");
    writeFileSync(p, `${"a".repeat(10)}\n${"b".repeat(10)}\n${"c".repeat(11)}${"d".repeat(100_000)}\n`);
    const got: string[] = [];
    assert.throws(
      () => {
        for (const l of fileLines(p, 10, 4)) got.push(l);
      },
      (e: Error) => e.message === `${p}:3: line longer than the limit of 10 bytes`,
    );
    assert.deepEqual(got, ["a".repeat(10), "b".repeat(10)]);
    // The unterminated last line is bounded too.
    writeFileSync(p, "x".repeat(11));
    assert.throws(() => [...fileLines(p, 10, 64)], /:1: line longer than the limit of 10 bytes/);
  });

  test("a missing file throws at the call; a directory names itself", () => {
    assert.throws(() => fileLines(join(tmp, "nope")), /ENOENT/);
    assert.throws(() => [...fileLines(tmp)], new RegExp(`cannot read ${tmp}: EISDIR`));
  });
});

test("jsonlObjects numbers lines from 1, counting blank ones", () => {
  const got = [...jsonlObjects(["", '{"a":1}', "  ", '{"a":2}'], "f.jsonl", "a")].map((o) => o.where);
  assert.deepEqual(got, ["f.jsonl:2", "f.jsonl:4"]);
  assert.throws(() => [...jsonlObjects(['{"a":1}', "[]"], "f.jsonl", "a")], /^Error: f\.jsonl:2: expected/);
});
