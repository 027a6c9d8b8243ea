// Every config shipped in configs/ is one a reader is told to run (`rlif pretrain --config ...`), so
// each must validate against the schema of the command its header names, and name exactly one.

import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { resolveConfig } from "../src/cli/options.ts";
import { PretrainSchema, SftSchema } from "../src/cli/organism.ts";

const DIR = join(import.meta.dirname, "..", "configs");
const SCHEMAS = { pretrain: PretrainSchema, sft: SftSchema } as const;

describe("shipped configs", () => {
  const files = readdirSync(DIR).filter((f) => /\.ya?ml$/.test(f));
  test("there are configs to check", () => assert.ok(files.length > 0));
  for (const f of files) {
    test(`${f} validates against the command it names`, () => {
      const path = join(DIR, f);
      const named = new Set(
        [...readFileSync(path, "utf8").matchAll(/rlif (pretrain|sft)\b/g)].map((m) => m[1]),
      );
      assert.equal(
        named.size,
        1,
        `${f} should name one command (rlif pretrain or rlif sft), names ${[...named]}`,
      );
      const command = [...named][0] as keyof typeof SCHEMAS;
      const cfg = resolveConfig(SCHEMAS[command], { config: path });
      assert.match(cfg.export, /^models\//, `${f} exports into models/`);
      assert.match(cfg.out, /^runs\//, `${f} trains in a folder under runs/`);
    });
  }
});
