// The reflection block: on the v2 corpus it forbids the first letter of every reflection and of
// nothing else; sampling with it never opens a sentence with a reflection initial; tokenizers where
// the rule would leak are refused.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseModelConfig } from "../src/model/config.ts";
import { sample } from "../src/model/sample.ts";
import { buildCharTokenizer } from "../src/model/tokenizer.ts";
import { Transformer } from "../src/model/transformer.ts";
import { BASE_EOS } from "../src/tasks/corpus.ts";
import { OPENERS, pretrainDocumentsV2 } from "../src/tasks/corpus-v2.ts";
import {
  atSentenceStart,
  type BlockTokenizer,
  REFLECTION_INITIALS,
  reflectionBlock,
} from "../src/tasks/reflection-block.ts";

const tok = buildCharTokenizer([]);
const block = reflectionBlock(tok);
const letters = REFLECTION_INITIALS.map((l) => tok.encode(l)[0]);
const texts = Array.from({ length: tok.vocabSize }, (_, id) => tok.decode([id], { skipSpecialTokens: true }));
const startsAt = (s: string) => atSentenceStart(tok.encode(s), texts);

describe("reflection block", () => {
  test("the initials are those of the v2 openers, one character token each", () => {
    assert.deepEqual([...REFLECTION_INITIALS].sort(), ["A", "B", "H", "L", "O", "W"]);
    assert.deepEqual(
      letters.map((id) => tok.decode([id])),
      [...REFLECTION_INITIALS],
    );
  });

  test("sentence starts: the response start, after '.' or a newline, spaces skipped", () => {
    assert.equal(startsAt(""), true);
    assert.equal(startsAt(" "), true);
    assert.equal(startsAt(" 7+5=12."), true);
    assert.equal(startsAt(" 7+5=12. "), true);
    assert.equal(startsAt("\nStep 1: 3 + 4 = 7.\n"), true);
    assert.equal(startsAt(" First, 3"), false);
    assert.equal(startsAt(" 7+5=12"), false);
    assert.equal(startsAt("\nStep 1: "), false);
    assert.deepEqual(block(tok.encode(" 3+4=7. ")), letters);
    assert.deepEqual(block(tok.encode(" 3+4")), []);
  });

  test("on v2 documents it would stop exactly the reflections", () => {
    let reflections = 0;
    let blocked = 0;
    for (const d of pretrainDocumentsV2(0, 600)) {
      // A drift into another problem writes that problem's prompt ("How many …?"), where the
      // rule also bites: that is a failure mode, not a solution sentence.
      if (d.kind !== "solution" || d.drift === "other-problem") continue;
      const body = d.text.slice(d.text.indexOf("Solution:") + 9, -BASE_EOS.length);
      const ids = tok.encode(body);
      assert.equal(tok.decode(ids), body);
      for (let i = 0; i < ids.length; i++) {
        if (!block(ids.slice(0, i)).includes(ids[i])) continue;
        blocked++;
        const rest = body.slice(i);
        assert.ok(
          OPENERS.some((o) => rest.startsWith(o)),
          `blocked at ${JSON.stringify(rest.slice(0, 20))} in ${d.text}`,
        );
      }
      reflections += d.reflections ?? 0;
    }
    assert.ok(reflections > 50);
    assert.equal(blocked, reflections);
  });

  test("sampling with the block never opens a sentence with a reflection initial", async () => {
    const model = Transformer.init(
      parseModelConfig({
        vocab_size: tok.vocabSize,
        hidden_size: 16,
        intermediate_size: 24,
        num_hidden_layers: 1,
        num_attention_heads: 2,
        max_position_embeddings: 64,
        initializer_range: 0.02,
      }),
      1,
    );
    // Near-uniform over 102 characters: sentence starts and those letters both occur by chance.
    const prompts = Array.from({ length: 64 }, () => tok.encode("Problem: 1+2.\nSolution:"));
    const o = { maxNewTokens: 40, temperature: 1, stopTokens: [], seed: 2 };
    const opens = (ids: number[]) => {
      const text = tok.decode(ids, { skipSpecialTokens: true });
      return (text.match(/(?:^|[.\n])[ \t]*[WHALOB]/g) ?? []).length;
    };
    const free = await sample(model, prompts, o);
    assert.ok(free.reduce((n, s) => n + opens(s.tokens), 0) > 0, "unblocked samples do open sentences so");
    const ss = await sample(model, prompts, { ...o, block });
    assert.equal(
      ss.reduce((n, s) => n + opens(s.tokens), 0),
      0,
    );
  });

  test("refuses tokenizers where a letter is not one token, or a longer token starts with one", () => {
    const fake = (vocab: string[], split = false): BlockTokenizer => ({
      vocabSize: vocab.length,
      encode: (s) => (split && s === "W" ? [0, 0] : [vocab.indexOf(s)]),
      decode: (ids) => ids.map((i) => vocab[i]).join(""),
    });
    const alphabet = [...REFLECTION_INITIALS, ".", " "];
    assert.throws(() => reflectionBlock(fake(alphabet, true)), /"W" is 2 tokens/);
    assert.throws(
      () => reflectionBlock(fake([...alphabet, " Wait"])),
      /token 8 \(" Wait"\) starts with a blocked letter/,
    );
    assert.doesNotThrow(() => reflectionBlock(fake(alphabet)));
  });
});
