// Reflection blocked at decoding time (issue 11, item 3): does the base model *need* its
// reflections? In the v2 corpus only reflection sentences open with W, H, A, L, O or B (the
// initials of corpus-v2's OPENERS), so forbidding those letters at every sentence start of a
// response removes reflection and nothing else the corpus writes. Used with SampleOptions.block.
//
// A sentence starts at the start of the response and wherever the last non-space character is '.'
// or a newline. The rule is exact only for a character-level tokenizer (the organism's): with
// multi-character tokens "Wait" could be one token that a letter ban misses, so such tokenizers are
// refused.

import type { Tokenizer } from "../model/tokenizer.ts";
import { OPENERS } from "./corpus-v2.ts";

/** The letters reflection sentences open with in the v2 corpus. */
export const REFLECTION_INITIALS: readonly string[] = [...new Set(OPENERS.map((o) => o[0]))];

export type BlockTokenizer = Pick<Tokenizer, "encode" | "decode" | "vocabSize">;

/** The tokens that spell each letter of `letters`, checking that the tokenizer has no other token
 *  starting with one of them. */
export function letterTokens(tok: BlockTokenizer, letters: readonly string[]): number[] {
  const ids = letters.map((letter) => {
    const t = tok.encode(letter);
    if (t.length !== 1)
      throw new Error(
        `reflection block: "${letter}" is ${t.length} tokens in this tokenizer; the block needs a ` +
          "character-level tokenizer (the organism's), where every letter is one token",
      );
    return t[0];
  });
  for (let id = 0; id < tok.vocabSize; id++) {
    if (ids.includes(id)) continue;
    const text = tokenText(tok, id);
    if (letters.some((l) => text.trimStart().startsWith(l)))
      throw new Error(
        `reflection block: token ${id} (${JSON.stringify(text)}) starts with a blocked letter but is ` +
          "not that letter alone; the block needs a character-level tokenizer (the organism's)",
      );
  }
  return ids;
}

/** Text of one token id; "" for ids the tokenizer does not know (gaps) and special tokens. */
function tokenText(tok: BlockTokenizer, id: number): string {
  try {
    return tok.decode([id], { skipSpecialTokens: true });
  } catch {
    return "";
  }
}

/** Whether the next token opens a sentence, given the texts of the tokens generated so far. */
export function atSentenceStart(generated: readonly number[], texts: readonly string[]): boolean {
  for (let i = generated.length - 1; i >= 0; i--) {
    const t = texts[generated[i]] ?? "";
    for (let c = t.length - 1; c >= 0; c--) {
      const ch = t[c];
      if (ch === " " || ch === "\t") continue;
      return ch === "." || ch === "\n";
    }
  }
  return true;
}

/** A SampleOptions.block that forbids the reflection initials at sentence starts. */
export function reflectionBlock(tok: BlockTokenizer): (generated: readonly number[]) => readonly number[] {
  const forbidden = letterTokens(tok, REFLECTION_INITIALS);
  const texts = Array.from({ length: tok.vocabSize }, (_, id) => tokenText(tok, id));
  const none: number[] = [];
  return (generated) => (atSentenceStart(generated, texts) ? forbidden : none);
}
