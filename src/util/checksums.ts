// SHA-256 manifests for folders whose files must come back exactly as written (checkpoints).
// The manifest is in `sha256sum` format, so `sha256sum -c checksums.sha256` inside the folder
// checks it too. Digests are taken from the bytes as they are written, so a file that changes
// afterwards (a flipped bit, a truncation, an edit) no longer matches. Files are hashed in chunks:
// verifying a multi-gigabyte checkpoint never holds it in memory.

import { createHash } from "node:crypto";
import { closeSync, existsSync, openSync, readFileSync, readSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "./fs.ts";

export const CHECKSUM_FILE = "checksums.sha256";

export function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** SHA-256 (hex) of a file, read 4 MiB at a time. */
export function sha256File(path: string): string {
  const hash = createHash("sha256");
  const buf = Buffer.allocUnsafe(4 << 20);
  const fd = openSync(path, "r");
  try {
    for (let n: number; (n = readSync(fd, buf, 0, buf.length, null)) > 0; ) hash.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return hash.digest("hex");
}

/** Write the manifest of `digests` (file name -> hex SHA-256) into dir. */
export function writeChecksums(dir: string, digests: ReadonlyMap<string, string>): void {
  const lines = [...digests].sort(([a], [b]) => (a < b ? -1 : 1)).map(([name, hex]) => `${hex}  ${name}\n`);
  writeFileAtomic(join(dir, CHECKSUM_FILE), lines.join(""));
}

/** The folder's manifest (file name -> hex digest), or null when it has none (written by an
 *  rlif without checksums, or a plain model folder). A malformed manifest is an error. */
export function readChecksums(dir: string): Map<string, string> | null {
  const path = join(dir, CHECKSUM_FILE);
  if (!existsSync(path)) return null;
  const out = new Map<string, string>();
  const lines = readFileSync(path, "utf8").split("\n");
  lines.forEach((line, i) => {
    if (!line) return;
    const m = /^([0-9a-f]{64}) [ *](.+)$/.exec(line);
    if (!m) throw new Error(`${path}:${i + 1}: not a "<sha256>  <file>" line`);
    out.set(m[2], m[1]);
  });
  return out;
}

/** Each of `names` in dir must be listed in the manifest and match its digest. */
export function verifyChecksums(
  dir: string,
  sums: ReadonlyMap<string, string>,
  names: readonly string[],
): void {
  for (const name of names) {
    const path = join(dir, name);
    const want = sums.get(name);
    if (want === undefined) throw new Error(`${path}: not listed in ${join(dir, CHECKSUM_FILE)}`);
    if (!existsSync(path)) throw new Error(`${path}: missing (listed in ${CHECKSUM_FILE})`);
    const got = sha256File(path);
    if (got !== want)
      throw new Error(
        `${path}: checksum mismatch (sha256 ${got.slice(0, 12)}…, recorded when written ` +
          `${want.slice(0, 12)}…): the file changed after it was written`,
      );
  }
}
