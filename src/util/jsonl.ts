// JSON Lines reading with errors that name the file and the line.

/** Each non-blank line of `text` as a JSON object, with `where` = "file:line" for messages. */
export function* jsonlObjects(
  text: string,
  file: string,
  expected: string,
): Generator<{ rec: Record<string, unknown>; where: string; line: number }> {
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === "") continue;
    const where = `${file}:${i + 1}`;
    let rec: unknown;
    try {
      rec = JSON.parse(line);
    } catch (e) {
      throw new Error(`${where}: invalid JSON (${(e as Error).message})`);
    }
    if (rec === null || typeof rec !== "object" || Array.isArray(rec))
      throw new Error(`${where}: expected a JSON object with ${expected}`);
    yield { rec: rec as Record<string, unknown>, where, line: i + 1 };
  }
}
