// Brace matching shared by extraction and normalisation. Escaped braces (\{ \}) do not count.

/** Index just past the `}` closing the group opened at `open`, or -1 if unbalanced. */
export function matchBrace(s: string, open: number): number {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    const c = s[i];
    if (c === "\\") {
      i++;
    } else if (c === "{") {
      depth++;
    } else if (c === "}") {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  return -1;
}

/** For each `{`, the index of its matching `}` (-1 when unmatched), in one linear pass. */
export function braceMatches(s: string): Int32Array {
  const match = new Int32Array(s.length).fill(-1);
  const stack: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === "\\") i++;
    else if (c === "{") stack.push(i);
    else if (c === "}" && stack.length > 0) match[stack.pop()!] = i;
  }
  return match;
}
