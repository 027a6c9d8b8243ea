import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  countTransitional,
  countWords,
  DEFAULT_TRANSITIONAL_WORDS,
  hasReflection,
  transitionalRate,
} from "../src/tasks/transitional.ts";

describe("transitional words", () => {
  it("the default list is the spec's", () => {
    assert.deepEqual(
      [...DEFAULT_TRANSITIONAL_WORDS].sort(),
      [
        "wait",
        "but",
        "however",
        "alternatively",
        "actually",
        "hmm",
        "check",
        "verify",
        "recheck",
        "double-check",
        "let me check",
        "let me verify",
        "on second thought",
        "instead",
        "mistake",
      ].sort(),
    );
  });

  it("counts words as runs of letters and digits", () => {
    assert.equal(countWords("Wait, let me check: 17 + 25 = 42."), 7);
    assert.equal(countWords("I'll double-check."), 2);
    assert.equal(countWords(""), 0);
    assert.equal(countWords(" + = . "), 0);
  });

  it("a phrase counts once, not also as its last word", () => {
    // wait + "let me check" = 2 occurrences in 7 words.
    const text = "Wait, let me check: 17 + 25 = 42.";
    assert.equal(countTransitional(text), 2);
    assert.equal(transitionalRate(text), (100 * 2) / 7);
    assert.equal(countTransitional("Let me verify. Then check again, on second thought."), 3);
    assert.equal(countTransitional("let  me\ncheck"), 1);
    assert.equal(countTransitional("I double-check it."), 1);
  });

  it("matches whole words only, case-insensitively", () => {
    assert.equal(countTransitional("WAIT. Hmm. But ACTUALLY, however"), 5);
    assert.equal(countTransitional("waiting checked checks rechecked butter mistaken Hmmm"), 0);
    assert.equal(countTransitional("recheck"), 1);
    assert.equal(countTransitional("re-check"), 0);
    assert.equal(countTransitional("check-up"), 0);
    assert.equal(countTransitional("a mistake, instead"), 2);
  });

  it("accepts a custom list and rejects an empty one", () => {
    assert.equal(countTransitional("So, so what? Wait.", ["so"]), 2);
    assert.equal(countTransitional("a.b a+b", ["a.b"]), 1);
    assert.throws(() => countTransitional("x", []), /empty/);
    assert.equal(transitionalRate("", ["so"]), 0);
  });

  it("hasReflection needs a re-checking marker, not a mere connective", () => {
    assert.equal(hasReflection("The road is quiet, but the wind is cold. However, instead."), false);
    assert.equal(hasReflection("First, 3 + 4 = 7. So the answer is \\boxed{7}."), false);
    assert.equal(hasReflection("Hmm, 3 + 4 is 7. That is right."), true);
    assert.equal(hasReflection("3+4=8. Check: 3+4=7, not 8."), true);
    assert.equal(hasReflection("On second thought, 3 + 4 = 7."), true);
  });
});
