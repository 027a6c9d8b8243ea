import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import {
  buildCharTokenizer,
  loadTokenizer,
  SPECIAL_TOKENS,
  saveTokenizer,
  tokenizerFromJson,
} from "../src/model/tokenizer.ts";
import { pretrainDocuments, sftExamples } from "../src/tasks/corpus.ts";

const FIXTURES = join(import.meta.dirname, "fixtures", "tokenizer");
const tmp = mkdtempSync(join(tmpdir(), "rlif-tok-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

const corpus = [...pretrainDocuments(1, 400).map((d) => d.text), ...sftExamples(1, 200).map((e) => e.text)];
const char = buildCharTokenizer(corpus);

describe("character tokenizer", () => {
  it("round-trips every corpus document, one token per character", () => {
    for (const text of corpus) {
      const ids = char.encode(text);
      assert.equal(char.decode(ids), text);
      const specials = text.match(/<\|\w+\|>/g) ?? [];
      const specialChars = specials.reduce((n, s) => n + s.length, 0);
      assert.equal(ids.length, text.length - specialChars + specials.length);
    }
  });

  it("special tokens are single ids 0-5 in a fixed order; EOS/PAD/BOS as documented", () => {
    Object.values(SPECIAL_TOKENS).forEach((s, i) => {
      assert.equal(char.tokenToId(s), i);
      assert.deepEqual(char.encode(s), [i]);
      assert.equal(char.idToToken(i), s);
    });
    assert.equal(char.eosId, char.tokenToId("<|endoftext|>"));
    assert.equal(char.padId, char.tokenToId("<|pad|>"));
    assert.equal(char.bosId, char.eosId);
    const ids = char.encode("<|user|>\nHi\n<|assistant|>\nOk<|end|>");
    assert.deepEqual(ids, [
      char.tokenToId("<|user|>"),
      char.tokenToId("\n"),
      char.tokenToId("H"),
      char.tokenToId("i"),
      char.tokenToId("\n"),
      char.tokenToId("<|assistant|>"),
      char.tokenToId("\n"),
      char.tokenToId("O"),
      char.tokenToId("k"),
      char.tokenToId("<|end|>"),
    ]);
  });

  it("has all printable ASCII and newline, sorted after the specials; unknown characters become <|unk|>", () => {
    assert.equal(char.vocabSize, 6 + 95 + 1);
    assert.equal(char.tokenToId("\n"), 6);
    assert.equal(char.tokenToId(" "), 7);
    assert.equal(char.tokenToId("~"), 6 + 95);
    assert.deepEqual(char.encode("a☃"), [char.tokenToId("a"), char.tokenToId("<|unk|>")]);
    const withAccent = buildCharTokenizer(["é"]);
    assert.equal(withAccent.vocabSize, char.vocabSize + 1);
    assert.equal(withAccent.decode(withAccent.encode("café")), "café");
  });

  it("decode skips special tokens on request and rejects ids outside the vocabulary", () => {
    const ids = char.encode("<|user|>\n2+2<|end|>");
    assert.equal(char.decode(ids, { skipSpecialTokens: true }), "\n2+2");
    assert.equal(char.decode([]), "");
    assert.throws(() => char.decode([char.vocabSize]), /not in the vocabulary/);
    assert.throws(() => char.decode([-1]), /not in the vocabulary/);
    assert.throws(() => char.decode([1.5]), /not in the vocabulary/);
    assert.deepEqual(char.encode(""), []);
  });

  it("saves and loads in tokenizer.json form (by folder or by file) with identical behaviour", () => {
    const dir = join(tmp, "char");
    saveTokenizer(char, dir);
    for (const loaded of [loadTokenizer(dir), loadTokenizer(join(dir, "tokenizer.json"))]) {
      assert.equal(loaded.vocabSize, char.vocabSize);
      assert.equal(loaded.eosId, char.eosId);
      assert.equal(loaded.padId, char.padId);
      assert.equal(loaded.bosId, char.bosId);
      for (const text of corpus.slice(0, 50)) assert.deepEqual(loaded.encode(text), char.encode(text));
    }
    const json = JSON.parse(readFileSync(join(dir, "tokenizer.json"), "utf8"));
    assert.equal(json.model.type, "BPE");
    assert.deepEqual(json.model.merges, []);
    assert.equal(json.added_tokens.length, 6);
  });
});

interface Golden {
  producer: string;
  golden: Record<string, { text: string; ids: number[]; decoded: string }[]>;
}
const golden = JSON.parse(readFileSync(join(FIXTURES, "golden.json"), "utf8")) as Golden;

describe("tokenizer.json files of real models (GPT-2 and Qwen2-style byte-level BPE fixtures)", () => {
  const gpt2 = loadTokenizer(join(FIXTURES, "gpt2-tiny"));

  it("applies merges in rank order; single bytes get GPT-2's ids", () => {
    // Hand-derived: bytes map through GPT-2's bytes_to_unicode table ("!" = 0, "a" = 64, "Ġ" = 220,
    // "Ã" = 127, "©" = 102, the same ids as GPT-2's own vocabulary); merged tokens are numbered from
    // 256 in merge order: th 256, the 257, Ġthe 258, at 259, Ġc 260, Ġcat 261, in 262, Ġin 263, 12 264.
    assert.deepEqual(gpt2.encode("the cat"), [257, 261]);
    assert.deepEqual(gpt2.encode("in the cat"), [262, 258, 261]);
    assert.deepEqual(gpt2.encode("123"), [264, 18]); // digits: "1 2" merges, "3" = 51 - 33
    assert.deepEqual(gpt2.encode("é!"), [127, 102, 0]); // UTF-8 C3 A9, then "!"
    assert.deepEqual(gpt2.encode("cat"), [66, 259]); // "c", "at": no "c at" merge
    assert.deepEqual(gpt2.encode(" "), [220]);
    assert.deepEqual(gpt2.encode("cat<|endoftext|>"), [66, 259, 265]);
    assert.equal(gpt2.vocabSize, 266);
    assert.equal(gpt2.eosId, 265); // no tokenizer_config.json: found by name
    assert.equal(gpt2.padId, 265);
    assert.equal(gpt2.bosId, undefined);
    assert.equal(gpt2.decode([257, 261, 127, 102]), "the caté");
  });

  it("Qwen2-style file: regex split (digits one by one), NFC, chat specials, EOS/PAD from tokenizer_config.json", () => {
    const qwen = loadTokenizer(join(FIXTURES, "qwen2-tiny"));
    assert.deepEqual(qwen.encode("123"), [16, 17, 18]); // \p{N} splits digits: no "1 2" merge across them
    assert.deepEqual(qwen.encode("Cafe\u0301"), qwen.encode("Café")); // NFC first
    assert.deepEqual(qwen.encode("<|im_start|>the<|im_end|>"), [266, 257, 267]);
    assert.equal(qwen.eosId, 267);
    assert.equal(qwen.padId, 265);
    assert.equal(qwen.bosId, undefined);
    assert.equal(qwen.vocabSize, 268);
  });

  it(`matches the reference implementation (${golden.producer}) on every fixture`, () => {
    for (const [name, cases] of Object.entries(golden.golden)) {
      const tok = loadTokenizer(join(FIXTURES, name));
      for (const c of cases) {
        assert.deepEqual(tok.encode(c.text), c.ids, `${name}: ${JSON.stringify(c.text)}`);
        assert.equal(tok.decode(c.ids), c.decoded, `${name}: ${JSON.stringify(c.text)}`);
      }
    }
  });

  it("the committed char fixture is what buildCharTokenizer makes today", () => {
    // make-fixtures.ts built it from these texts; if the format changes, regenerate the golden ids.
    const fresh = buildCharTokenizer(["Problem: Compute 17 + 25 - 8.\nSolution:", "café"]);
    const committed = JSON.parse(readFileSync(join(FIXTURES, "char", "tokenizer.json"), "utf8"));
    assert.deepEqual(fresh.json, committed);
  });

  it("gives clear errors for missing, malformed and incomplete files", () => {
    assert.throws(() => loadTokenizer(join(tmp, "nope.json")), /cannot read .*nope\.json/);
    const bad = join(tmp, "bad.json");
    writeFileSync(bad, "{ not json");
    assert.throws(() => loadTokenizer(bad), /bad\.json: invalid JSON/);
    const noModel = join(tmp, "nomodel.json");
    writeFileSync(noModel, JSON.stringify({ added_tokens: [] }));
    assert.throws(() => loadTokenizer(noModel), /nomodel\.json: not a tokenizer\.json/);
    const json = JSON.parse(readFileSync(join(FIXTURES, "gpt2-tiny", "tokenizer.json"), "utf8"));
    json.added_tokens = [];
    delete json.model.vocab["<|endoftext|>"];
    assert.throws(() => tokenizerFromJson(json), /cannot tell the EOS token/);
    assert.throws(
      () => tokenizerFromJson(json, { eos_token: "</s>" }),
      /eos_token "<\/s>" is not in the vocabulary/,
    );
    assert.equal(tokenizerFromJson(json, { eos_token: { content: "!" } }).eosId, 0);
  });
});
