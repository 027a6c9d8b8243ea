// The committed kernel modules are exactly what `npm run build:wasm` makes from the sources.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { it } from "node:test";

function hasAsc(): boolean {
  try {
    createRequire(import.meta.url).resolve("assemblyscript/package.json");
    return true;
  } catch {
    return false;
  }
}

it("committed kernels.wasm and kernels-relaxed.wasm equal a fresh build", (t) => {
  if (!hasAsc()) {
    t.skip("assemblyscript (asc) is not installed: cannot rebuild the kernels");
    return;
  }
  const out = mkdtempSync(join(tmpdir(), "rlif-wasm-"));
  try {
    const r = spawnSync(process.execPath, ["scripts/build-wasm.mjs", "--out", out], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    for (const name of ["kernels.wasm", "kernels-relaxed.wasm"]) {
      const committed = join("src/engine/backends/cpu/wasm", name);
      assert.ok(existsSync(committed), `${committed} is missing: run npm run build:wasm`);
      assert.ok(
        readFileSync(join(out, name)).equals(readFileSync(committed)),
        `${committed} is stale: run npm run build:wasm and commit it`,
      );
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
