// JSON Lines reading with errors that name the file and the line. Files are read in chunks and
// every line is bounded, so a huge file or a huge line never has to be held in memory.

import { closeSync, openSync, readSync } from "node:fs";

/** The longest JSONL line accepted (bytes): far above any benchmark or graded response, far below
 *  what would cost seconds and gigabytes to parse, tokenize and grade. */
export const MAX_LINE_BYTES = 1 << 20;

const CHUNK_BYTES = 1 << 16;

/** A file's lines (without "\n"), read chunk by chunk. The file is opened at once (a missing file
 *  throws here); a line longer than `maxLineBytes` is an error naming file:line, raised as soon as
 *  the limit is passed, before the rest of the line is read. */
export function fileLines(
  path: string,
  maxLineBytes = MAX_LINE_BYTES,
  chunkBytes = CHUNK_BYTES,
): Generator<string> {
  const fd = openSync(path, "r");
  return linesOf(fd, path, maxLineBytes, chunkBytes);
}

function* linesOf(fd: number, path: string, maxLineBytes: number, chunkBytes: number): Generator<string> {
  const buf = Buffer.alloc(chunkBytes);
  let parts: Buffer[] = []; // the current line's bytes so far (it spans chunks)
  let partBytes = 0;
  let lineNo = 1;
  const tooLong = () => new Error(`${path}:${lineNo}: line longer than the limit of ${maxLineBytes} bytes`);
  try {
    for (;;) {
      let n: number;
      try {
        n = readSync(fd, buf, 0, chunkBytes, null);
      } catch (e) {
        throw new Error(`cannot read ${path}: ${(e as Error).message}`);
      }
      if (n === 0) break;
      let start = 0;
      for (let nl = buf.indexOf(10, 0); nl !== -1 && nl < n; nl = buf.indexOf(10, start)) {
        if (partBytes + nl - start > maxLineBytes) throw tooLong();
        parts.push(buf.subarray(start, nl));
        // Lines are cut at "\n" bytes, which never occur inside a UTF-8 sequence.
        yield Buffer.concat(parts).toString("utf8");
        parts = [];
        partBytes = 0;
        lineNo++;
        start = nl + 1;
      }
      if (start < n) {
        partBytes += n - start;
        if (partBytes > maxLineBytes) throw tooLong();
        parts.push(Buffer.from(buf.subarray(start, n))); // copied: buf is reused
      }
    }
    if (partBytes > 0) yield Buffer.concat(parts).toString("utf8");
  } finally {
    closeSync(fd);
  }
}

/** Each non-blank line as a JSON object, with `where` = "file:line" for messages. */
export function* jsonlObjects(
  lines: Iterable<string>,
  file: string,
  expected: string,
): Generator<{ rec: Record<string, unknown>; where: string; line: number }> {
  let i = 0;
  for (const raw of lines) {
    i++;
    const line = raw.trim();
    if (line === "") continue;
    const where = `${file}:${i}`;
    let rec: unknown;
    try {
      rec = JSON.parse(line);
    } catch (e) {
      throw new Error(`${where}: invalid JSON (${(e as Error).message})`);
    }
    if (rec === null || typeof rec !== "object" || Array.isArray(rec))
      throw new Error(`${where}: expected a JSON object with ${expected}`);
    yield { rec: rec as Record<string, unknown>, where, line: i };
  }
}
