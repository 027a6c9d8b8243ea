// `\boxed{…}` / `\fbox{…}` answers. A response may give its answer in one box or split over
// adjacent boxes (`\boxed{-2} and \boxed{1}`, `\boxed{1}\boxed{2}`): the last group of boxes
// joined only by a connective (",", ";", "and", with spacing commands, math delimiters) is one
// answer, its parts listed. Boxes separated by anything else (words, or bare whitespace between
// two math displays) are separate statements, and the last one wins. One linear pass.

import { braceMatches } from "./braces.ts";

interface Box {
  start: number; // index of the backslash
  end: number; // index just past the box
  content: string;
}

// Far more than any answer has; keeps a text made of boxes from building a huge list.
const MAX_GROUP = 64;
const MAX_SEPARATOR = 80;

const BOX_CMD = /\\(boxed|fbox)(?![a-zA-Z])/g;

/** All well-formed, non-empty boxes of the given commands, outermost only, in order. */
function findBoxes(text: string, commands: readonly string[]): Box[] {
  const out: Box[] = [];
  let match: Int32Array | null = null;
  let after = 0; // boxes inside an earlier box belong to it
  BOX_CMD.lastIndex = 0;
  for (let m = BOX_CMD.exec(text); m !== null; m = BOX_CMD.exec(text)) {
    if (m.index < after || !commands.includes(m[1]!)) continue;
    match ??= braceMatches(text);
    const box = boxAt(text, m.index, m.index + m[0].length, match);
    if (box === null) continue;
    out.push(box);
    after = box.end;
    BOX_CMD.lastIndex = Math.max(BOX_CMD.lastIndex, box.end);
  }
  return out;
}

function boxAt(text: string, start: number, at: number, match: Int32Array): Box | null {
  let i = at;
  while (i < text.length && (text[i] === " " || text[i] === "\t")) i++;
  if (text[i] === "{") {
    const close = match[i]!;
    if (close < 0) return null;
    const content = text.slice(i + 1, close).trim();
    return content === "" ? null : { start, end: close + 1, content };
  }
  // `\boxed 5` / `\boxed5`: models mean everything up to the next `$`, newline or end.
  let j = i;
  while (j < text.length && text[j] !== "$" && text[j] !== "\n") j++;
  const content = text
    .slice(i, j)
    .trim()
    .replace(/[.,;]$/, "");
  return content === "" ? null : { start, end: j, content };
}

/** Whether the text between two boxes only joins them: a connective, spacing, delimiters. */
function joins(sep: string): boolean {
  if (sep === "") return true;
  if (sep.length > MAX_SEPARATOR) return false;
  const words = sep
    .replace(/\\(?:text|textrm|textbf|mathrm|mbox)\s*\{([^{}]*)\}/g, " $1 ")
    .replace(/\\(?:quad|qquad)(?![a-zA-Z])|\\[,;:! ()[\]]|[$\\~]/g, " ")
    .replace(/\s+/g, " ")
    .trim()
    .toLowerCase();
  // Not "or": `\boxed{15\frac{39}{40}} or \boxed{\frac{639}{40}}` restates one answer.
  return /^(?:,|;|and|, ?and)$/.test(words);
}

/**
 * The answer given in boxes: the content of the last box, or of the last group of joined boxes
 * listed with ", ". Null when the text has no well-formed, non-empty box.
 */
export function boxedAnswer(text: string, commands: readonly string[] = ["boxed", "fbox"]): string | null {
  return lastBoxGroup(text, commands)?.answer ?? null;
}

/** `boxedAnswer` with the index just past the last box. */
export function lastBoxGroup(
  text: string,
  commands: readonly string[] = ["boxed", "fbox"],
): { answer: string; end: number } | null {
  const boxes = findBoxes(text, commands);
  if (boxes.length === 0) return null;
  let first = boxes.length - 1;
  while (
    first > 0 &&
    boxes.length - first < MAX_GROUP &&
    joins(text.slice(boxes[first - 1]!.end, boxes[first]!.start))
  ) {
    first--;
  }
  const answer = boxes
    .slice(first)
    .map((b) => b.content)
    .join(", ");
  return { answer, end: boxes.at(-1)!.end };
}
