// Real Hugging Face model folders (test/fixtures/hf, made by scripts/golden/make_hf_golden.py in
// the hub's layout): prompts through the families' chat templates (Qwen's real ones, rlif's own for the
// Llama 3 format: scripts/golden/templates/NOTICE.md), stop tokens, saving in
// the same layout (byte for byte what PyTorch wrote), and a clear error for each kind of bad folder.
// Logits and gradients of the same folders against PyTorch: test/golden.test.ts.

import assert from "node:assert/strict";
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { ChatTemplate } from "../src/model/chat-template.ts";
import { loadModel } from "../src/model/checkpoint.ts";
import { parseModelConfig } from "../src/model/config.ts";
import { loadHfFolder, saveHfFolder } from "../src/model/hf-folder.ts";
import { assertFits, memoryNeeds } from "../src/model/memory.ts";
import { REASONING_INSTRUCTION } from "../src/model/prompt.ts";
import {
  floatToBf16Bits,
  floatToHalfBits,
  readSafetensorsFile,
  SafetensorsFile,
} from "../src/model/safetensors.ts";
import { INDEX_FILE } from "../src/model/weights.ts";

const HF = new URL("./fixtures/hf/", import.meta.url).pathname;
const tmpRoot = mkdtempSync(join(tmpdir(), "rlif-hf-"));
after(() => rmSync(tmpRoot, { recursive: true, force: true }));
let tmpCount = 0;
const tmp = () => join(tmpRoot, `t${tmpCount++}`);

/** A private copy of a fixture folder, to damage. */
function copyFixture(name: string): string {
  const dir = join(tmp(), name);
  cpSync(join(HF, name), dir, { recursive: true });
  return dir;
}

const PROBLEM = "What is $1+1$?";
const USER = `${PROBLEM}\n${REASONING_INSTRUCTION}`;

describe("prompts through the families' chat templates", () => {
  // Expected strings: what transformers' apply_chat_template(add_generation_prompt=True) gives
  // for one user message with each family's template. Qwen2.5-Instruct inserts its default system
  // turn (asserted for Qwen2.5-1.5B-Instruct in NVIDIA NeMo-RL's MMLU dataset test); Qwen3 has no
  // default system turn; the Llama 3 format (Llama 3.1/3.2 Instruct; the fixture carries rlif's own
  // template for it, scripts/golden/templates/NOTICE.md) opens with BOS and a system turn holding the
  // knowledge cutoff and the date (fixed here, see src/model/chat-template.ts), and trims the message.
  const cases: [string, string][] = [
    [
      "qwen2-tiny",
      "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n" +
        `<|im_start|>user\n${USER}<|im_end|>\n<|im_start|>assistant\n`,
    ],
    ["qwen3-tiny", `<|im_start|>user\n${USER}<|im_end|>\n<|im_start|>assistant\n`],
    [
      "llama-tiny",
      "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n" +
        "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|>" +
        `<|start_header_id|>user<|end_header_id|>\n\n${USER}<|eot_id|>` +
        "<|start_header_id|>assistant<|end_header_id|>\n\n",
    ],
  ];
  for (const [name, want] of cases)
    test(`${name}: the instruct prompt is the template's rendering`, () => {
      const m = loadHfFolder(join(HF, name));
      assert.equal(m.kind, "instruct");
      assert.equal(m.prompt(PROBLEM), want);
    });

  test("Qwen3: enable_thinking=false closes an empty think block; earlier turns lose their thinking", () => {
    const { chat } = loadHfFolder(join(HF, "qwen3-tiny"));
    const msgs = [
      { role: "user", content: "Q1" },
      { role: "assistant", content: "<think>\nscratch\n</think>\n\nA1" },
      { role: "user", content: "Q2" },
    ];
    assert.equal(
      chat!.render(msgs, { addGenerationPrompt: true, variables: { enable_thinking: false } }),
      "<|im_start|>user\nQ1<|im_end|>\n<|im_start|>assistant\nA1<|im_end|>\n" +
        "<|im_start|>user\nQ2<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n",
    );
  });

  test("a system message replaces Qwen2.5's default; without add_generation_prompt no assistant turn opens", () => {
    const { chat } = loadHfFolder(join(HF, "qwen2-tiny"));
    assert.equal(
      chat!.render([
        { role: "system", content: "Be brief." },
        { role: "user", content: "Hi" },
      ]),
      "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n",
    );
  });

  test("Llama 3: a system message follows the date lines; turns are trimmed; no assistant turn opens unasked", () => {
    const { chat } = loadHfFolder(join(HF, "llama-tiny"));
    const head = (role: string) => `<|start_header_id|>${role}<|end_header_id|>\n\n`;
    assert.equal(
      chat!.render([
        { role: "system", content: " Be brief.\n" },
        { role: "user", content: "Hi\n" },
        { role: "assistant", content: "Hello." },
        { role: "user", content: "2+2?" },
      ]),
      `<|begin_of_text|>${head("system")}Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n` +
        `Be brief.<|eot_id|>${head("user")}Hi<|eot_id|>${head("assistant")}Hello.<|eot_id|>` +
        `${head("user")}2+2?<|eot_id|>`,
    );
  });

  test("BOS as transformers adds it: by the post-processor for plain text, once for a template", () => {
    const llama = loadHfFolder(join(HF, "llama-tiny"));
    const bos = llama.tokenizer.tokenToId("<|begin_of_text|>")!;
    const chatIds = llama.codec.encode(llama.prompt(PROBLEM));
    assert.equal(chatIds[0], bos);
    assert.notEqual(chatIds[1], bos);
    assert.equal(chatIds[1], llama.tokenizer.tokenToId("<|start_header_id|>"));
    const plain = llama.codec.encode("Problem: 2+2");
    assert.deepEqual(plain, [bos, ...llama.tokenizer.encode("Problem: 2+2")]);
    const qwen = loadHfFolder(join(HF, "qwen2-tiny"));
    assert.equal(qwen.codec.encode("<|im_start|>user")[0], qwen.tokenizer.tokenToId("<|im_start|>"));
    assert.deepEqual(qwen.codec.encode("2+2"), qwen.tokenizer.encode("2+2"));
    // A bos_token the post-processor does not add (SmolLM2 names <|im_start|>) is not prepended.
    const dir = copyFixture("qwen2-tiny");
    const p = join(dir, "tokenizer_config.json");
    writeFileSync(p, JSON.stringify({ ...JSON.parse(readFileSync(p, "utf8")), bos_token: "<|im_start|>" }));
    const smol = loadHfFolder(dir);
    assert.deepEqual(smol.codec.encode("2+2"), smol.tokenizer.encode("2+2"));
  });

  test("base prompts are plain zero-shot text; the folder name or the flag picks base", () => {
    const dir = join(tmp(), "Qwen2.5-0.5B-base");
    cpSync(join(HF, "qwen2-tiny"), dir, { recursive: true });
    const m = loadHfFolder(dir);
    assert.equal(m.kind, "base");
    assert.equal(m.prompt(PROBLEM), `Problem: ${PROBLEM}\n${REASONING_INSTRUCTION}\nSolution:`);
    assert.equal(loadHfFolder(join(HF, "llama-tiny"), { kind: "base" }).kind, "base");
  });

  test("stop tokens: generation_config.json's eos ids, config.json's and the tokenizer's EOS", () => {
    const ids = (name: string, tokens: string[]) => {
      const m = loadHfFolder(join(HF, name));
      return [m.stopIds.sort(), tokens.map((t) => m.tokenizer.tokenToId(t)!).sort()];
    };
    const [q, qWant] = ids("qwen2-tiny", ["<|im_end|>", "<|endoftext|>"]);
    assert.deepEqual(q, qWant);
    const [l, lWant] = ids("llama-tiny", ["<|end_of_text|>", "<|eot_id|>", "<|eom_id|>"]);
    assert.deepEqual(l, lWant);
  });
});

describe("saving in the hub layout", () => {
  const shardBytes = (dir: string) => {
    const first = join(dir, "model-00001-of-00002.safetensors");
    return readFileSync(first).length - Number(readFileSync(first).readBigUInt64LE(0)) - 8;
  };

  for (const name of ["qwen2-tiny", "llama-tiny"])
    test(`${name}: BF16 shards and index byte for byte as PyTorch wrote them`, () => {
      const src = join(HF, name);
      const out = tmp();
      const written = saveHfFolder(out, loadModel(src), {
        dtype: "BF16",
        maxShardBytes: shardBytes(src),
        assets: src,
      });
      assert.ok(written.includes(INDEX_FILE));
      for (const f of ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", INDEX_FILE])
        assert.deepEqual(readFileSync(join(out, f)), readFileSync(join(src, f)), f);
      for (const f of ["tokenizer.json", "tokenizer_config.json", "generation_config.json"])
        assert.deepEqual(readFileSync(join(out, f)), readFileSync(join(src, f)), f);
      assert.equal(JSON.parse(readFileSync(join(out, "config.json"), "utf8")).torch_dtype, "bfloat16");
    });

  test("re-saving unsharded F32 replaces the shards; F16 rounds; each loads back", () => {
    const src = join(HF, "qwen3-tiny");
    const model = loadModel(src);
    const out = tmp();
    saveHfFolder(out, model, { dtype: "BF16", maxShardBytes: 20_000, assets: src });
    assert.ok(existsSync(join(out, INDEX_FILE)));
    saveHfFolder(out, model, { dtype: "F32" });
    assert.deepEqual(
      readdirSync(out)
        .filter((f) => f.includes("safetensors"))
        .sort(),
      ["model.safetensors"],
    );
    const back = loadModel(out);
    for (const [n, t] of model.parameters()) assert.deepEqual(back.p(n).readSync(), t.readSync(), n);
    saveHfFolder(out, model, { dtype: "F16" });
    const f16 = readSafetensorsFile(join(out, "model.safetensors")).tensors;
    assert.ok([...f16.values()].every((t) => t.dtype === "F16"));
    const w = loadModel(out).p("model.embed_tokens.weight").readSync();
    const orig = model.p("model.embed_tokens.weight").readSync();
    for (let i = 0; i < w.length; i++)
      assert.ok(Math.abs(w[i] - orig[i]) <= Math.abs(orig[i]) * 2 ** -11 + 2 ** -24);
  });

  test("float32 to bfloat16 and float16 rounds exactly as PyTorch does", () => {
    const f = SafetensorsFile.open(join(HF, "rounding.safetensors"));
    try {
      const x = f.read("f32").data;
      const bits = (name: string) => {
        const raw = readFileSync(join(HF, "rounding.safetensors"));
        const n = Number(raw.readBigUInt64LE(0));
        const header = JSON.parse(raw.subarray(8, 8 + n).toString());
        const [b, e] = header[name].data_offsets;
        const view = raw.subarray(8 + n + b, 8 + n + e);
        return Array.from({ length: view.length / 2 }, (_, i) => view.readUInt16LE(2 * i));
      };
      const bf = bits("bf16");
      const hf = bits("f16");
      let checked = 0;
      for (let i = 0; i < x.length; i++) {
        if (Number.isNaN(x[i])) continue; // NaN payloads aside, both are NaN
        assert.equal(floatToBf16Bits(x[i]), bf[i], `bf16(${x[i]})`);
        assert.equal(floatToHalfBits(x[i]), hf[i], `f16(${x[i]})`);
        checked++;
      }
      assert.ok(checked > 600);
    } finally {
      f.close();
    }
  });
});

describe("bad folders: a clear error naming the file", () => {
  test("a missing shard", () => {
    const dir = copyFixture("qwen2-tiny");
    unlinkSync(join(dir, "model-00002-of-00002.safetensors"));
    assert.throws(() => loadModel(dir), /model-00002-of-00002\.safetensors: shard missing/);
  });

  test("a shard whose tensors disagree with the index", () => {
    const dir = copyFixture("llama-tiny");
    const indexPath = join(dir, INDEX_FILE);
    const index = JSON.parse(readFileSync(indexPath, "utf8"));
    index.weight_map["model.norm.weight"] = "model-00001-of-00002.safetensors";
    writeFileSync(indexPath, JSON.stringify(index));
    assert.throws(
      () => loadModel(dir),
      /model-00001-of-00002\.safetensors: lacks tensor model\.norm\.weight, which model\.safetensors\.index\.json places in this shard/,
    );
    delete index.weight_map["model.norm.weight"];
    writeFileSync(indexPath, JSON.stringify(index));
    assert.throws(
      () => loadModel(dir),
      /model-00002-of-00002\.safetensors: holds tensor model\.norm\.weight, which model\.safetensors\.index\.json does not list/,
    );
  });

  test("a truncated shard", () => {
    const dir = copyFixture("qwen3-tiny");
    const p = join(dir, "model-00001-of-00002.safetensors");
    writeFileSync(p, readFileSync(p).subarray(0, 5000));
    assert.throws(() => loadModel(dir), /model-00001-of-00002\.safetensors: .*truncated/);
  });

  test("an unsupported family or feature names config.json and the field", () => {
    const cfg = JSON.parse(readFileSync(join(HF, "llama-tiny", "config.json"), "utf8"));
    assert.throws(
      () => parseModelConfig({ ...cfg, model_type: "gpt2" }, "x/config.json"),
      /x\/config\.json: model_type: "gpt2" is not one of the families rlif implements \(qwen2, qwen3, llama\)/,
    );
    assert.throws(
      () => parseModelConfig({ ...cfg, rope_scaling: { rope_type: "yarn", factor: 4 } }, "x/config.json"),
      /x\/config\.json: rope_scaling: type "yarn" is not implemented/,
    );
    assert.throws(
      () => parseModelConfig({ ...cfg, use_sliding_window: true }, "x/config.json"),
      /use_sliding_window: sliding-window attention is not implemented/,
    );
    // transformers' newer rope_parameters object is read as rope_theta + rope_scaling.
    const { rope_theta: _t, rope_scaling: sc, ...rest } = cfg;
    const v5 = parseModelConfig({ ...rest, rope_parameters: { ...sc, rope_theta: 500000 } });
    assert.equal(v5.rope_theta, 500000);
    assert.equal(v5.rope_scaling?.rope_type, "llama3");
    assert.throws(
      () =>
        parseModelConfig(
          { ...rest, rope_parameters: { rope_type: "yarn", rope_theta: 1e6, factor: 4 } },
          "x/config.json",
        ),
      /rope_scaling: type "yarn" is not implemented/,
    );
    const dir = copyFixture("qwen2-tiny");
    writeFileSync(join(dir, "config.json"), JSON.stringify({ ...cfg, model_type: "mistral" }));
    assert.throws(() => loadHfFolder(dir), /qwen2-tiny\/config\.json: model_type: "mistral"/);
  });

  test("a template that does not parse or raises names tokenizer_config.json", () => {
    const dir = copyFixture("qwen2-tiny");
    const p = join(dir, "tokenizer_config.json");
    const cfg = JSON.parse(readFileSync(p, "utf8"));
    writeFileSync(p, JSON.stringify({ ...cfg, chat_template: "{% for m in messages %}{{ m.content }" }));
    assert.throws(() => loadHfFolder(dir), /tokenizer_config\.json: chat template does not parse/);
    writeFileSync(
      p,
      JSON.stringify({ ...cfg, chat_template: "{{ raise_exception('Only user and assistant roles') }}" }),
    );
    const m = loadHfFolder(dir);
    assert.throws(
      () => m.prompt(PROBLEM),
      /tokenizer_config\.json: chat template failed to render: .*Only user and assistant roles/,
    );
    assert.throws(
      () =>
        new ChatTemplate("{{ messages[0].content.nope() }}", {}, "t.jinja").render([
          { role: "user", content: "x" },
        ]),
      /t\.jinja: chat template failed to render/,
    );
  });

  test("an eos_token_id outside the vocabulary names generation_config.json", () => {
    const dir = copyFixture("qwen3-tiny");
    writeFileSync(join(dir, "generation_config.json"), JSON.stringify({ eos_token_id: [267, 99999] }));
    assert.throws(() => loadHfFolder(dir), /generation_config\.json: eos_token_id 99999 is not a token id/);
  });
});

describe("memory: refuse at once what the backend cannot hold", () => {
  // Qwen2.5-1.5B-Instruct's config.json (dimensions only).
  const qwen15 = parseModelConfig({
    model_type: "qwen2",
    vocab_size: 151936,
    hidden_size: 1536,
    intermediate_size: 8960,
    num_hidden_layers: 28,
    num_attention_heads: 12,
    num_key_value_heads: 2,
    tie_word_embeddings: true,
    rope_theta: 1000000.0,
    max_position_embeddings: 32768,
  });

  test("parameter count of a real config", () => {
    // 1,543,714,304 parameters: Qwen2.5-1.5B's published count (tied head).
    assert.equal(memoryNeeds(qwen15).parameters, 1_543_714_304);
  });

  test("training a 1.5B model on the wasm backend fails before any weight is read", () => {
    assert.throws(
      () => assertFits("Qwen2.5-1.5B-Instruct", qwen15, "wasm", "train"),
      /Qwen2\.5-1\.5B-Instruct: 1\.54B parameters \(5\.8 GiB as float32\); training it .* needs about .* GiB, but the wasm backend's WebAssembly memory holds at most 4 GiB/,
    );
    const dir = copyFixture("qwen2-tiny");
    const cfg = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
    writeFileSync(join(dir, "config.json"), JSON.stringify({ ...cfg, ...qwen15, vocab_size: 151936 }));
    // The shards hold the tiny model: reading them would fail on shapes; the memory check comes first.
    assert.throws(
      () => loadHfFolder(dir, { fit: { backend: "wasm", purpose: "eval" } }),
      /WebAssembly memory holds at most 4 GiB/,
    );
  });

  test("the tiny folders fit", () => {
    const m = loadHfFolder(join(HF, "llama-tiny"), { fit: { backend: "wasm", purpose: "train" } });
    assert.equal(m.family, "llama");
  });
});
