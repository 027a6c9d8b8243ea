// openModel: the one way commands open a model (folder or organism name -> weights, tokenizer,
// prompt template), and the tokenizer files a derived model folder takes from its source.

import assert from "node:assert/strict";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { applyTemplate, loadProblems, withTemplate } from "../src/eval/sources.ts";
import { copyTokenizerFiles, openModel, REPO_ROOT } from "../src/model/open.ts";

const root = mkdtempSync(join(tmpdir(), "rlif-open-"));
after(() => rmSync(root, { recursive: true, force: true }));
const organism = (name: string) => join(REPO_ROOT, "models", name);

describe("openModel", () => {
  test("an organism name opens its folder under models/, asked with the template it records", () => {
    const base = openModel("organism-base");
    assert.equal(base.folder, organism("organism-base"));
    assert.equal(base.kind, "base");
    const inst = openModel("organism-instruct");
    assert.equal(inst.kind, "instruct");
    assert.equal(inst.model.config.rlif_kind, "instruct");
    assert.equal(
      openModel("organism-instruct", { template: "base" }).kind,
      "base",
      "an explicit template wins",
    );
    assert.equal(openModel("organism-base", { template: "auto" }).kind, "base");
    // The codec is the model's tokenizer: BOS first, its end-of-response token among the stops.
    const ids = inst.codec.encode("12+3");
    assert.ok(ids.length > 1);
    assert.equal(inst.codec.decode(ids), "12+3");
    assert.ok(inst.codec.stopIds?.includes(inst.codec.eosId));
  });

  test("a folder opens as itself; a folder without rlif_kind is a base model; a non-model is refused", () => {
    const dir = join(root, "plain");
    mkdirSync(dir);
    const src = organism("organism-instruct");
    for (const f of ["model.safetensors", "tokenizer.json"]) copyFileSync(join(src, f), join(dir, f));
    const { rlif_kind: _, ...config } = JSON.parse(readFileSync(join(src, "config.json"), "utf8"));
    writeFileSync(join(dir, "config.json"), JSON.stringify(config));
    const m = openModel(dir);
    assert.equal(m.folder, dir);
    assert.equal(m.kind, "base");
    assert.throws(() => openModel(join(root, "nothing")), /not a model folder \(no config\.json\)/);
  });

  test("withTemplate applies the template to each problem", () => {
    const problems = loadProblems("organism:train", 3, 5);
    const prompts = withTemplate(problems, "instruct");
    assert.deepEqual(
      prompts,
      problems.map((p) => ({ id: p.id, prompt: applyTemplate(p.problem, "instruct"), answer: p.answer })),
    );
  });

  test("copyTokenizerFiles copies the tokenizer files and nothing else", () => {
    const to = join(root, "derived");
    mkdirSync(to);
    copyTokenizerFiles(organism("organism-base"), to);
    assert.ok(existsSync(join(to, "tokenizer.json")));
    assert.ok(existsSync(join(to, "tokenizer_config.json")));
    assert.ok(!existsSync(join(to, "config.json")));
    assert.ok(!existsSync(join(to, "model.safetensors")));
  });
});
