"""Tiny Qwen2, Qwen3 and Llama model folders in the real Hugging Face layout, with golden values.

Run with Debian's torch (NOT a venv python):   /usr/bin/python3 scripts/golden/make_hf_golden.py

Writes test/fixtures/hf/<family>-tiny/ for family in qwen2, qwen3, llama, each as a hub download
looks: config.json (the family's real fields), BF16 weights in two shards
(model-00001-of-00002.safetensors, model-00002-of-00002.safetensors, model.safetensors.index.json),
generation_config.json, tokenizer.json (the small byte-level BPE of test/fixtures/tokenizer/qwen2-tiny
with the family's special tokens) and tokenizer_config.json with a chat template: Qwen2.5-Instruct's
and Qwen3's (Apache-2.0), and for Llama rlif's own rendition of the documented Llama 3 prompt format
(Meta's template is under the Llama Community License, which the MIT repository cannot carry);
see templates/NOTICE.md. Beside them golden.safetensors (F64): input_ids,
logits, loss (mean next-token cross entropy), grad.<name> of every parameter and inv_freq (the
rotary inverse frequencies, float32 values).

Also writes test/fixtures/hf/rounding.safetensors: float32 values and PyTorch's own conversion of
them to bfloat16 and float16 (round to nearest even, ties, subnormals, overflow), for rlif's writer.

The forward pass is transformers' modeling_qwen2.py / modeling_qwen3.py / modeling_llama.py written
out in float64 PyTorch from the BF16-rounded weights: Qwen2 has q/k/v biases; Qwen3 none, but
RMSNorm over each query and key head (q_norm, k_norm, weight [head_dim]) before RoPE, and a
head_dim that is not hidden_size / heads; Llama none, with rope_scaling of type llama3, whose
frequency adjustment is transformers' _compute_llama3_parameters, copied op for op (float32).
"""

import json
import math
import pathlib
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import safetensors_io as st  # noqa: E402
from make_golden import dims, param_shapes, random_weight  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "test" / "fixtures" / "hf"
BASE_TOKENIZER = ROOT / "test" / "fixtures" / "tokenizer" / "qwen2-tiny" / "tokenizer.json"
B, T = 2, 12

# ------------------------------------------------------------------ chat templates
# Qwen2.5-Instruct's tokenizer_config.json chat_template (Qwen/Qwen2.5-1.5B-Instruct on the hub,
# Apache-2.0; see templates/NOTICE.md).
QWEN25_TEMPLATE = (
    "{%- if tools %}\n    {{- '<|im_start|>system\\n' }}\n    {%- if messages[0]['role'] == 'system' %}\n"
    "        {{- messages[0]['content'] }}\n    {%- else %}\n"
    "        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}\n    {%- endif %}\n"
    "    {{- \"\\n\\n# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\n"
    "You are provided with function signatures within <tools></tools> XML tags:\\n<tools>\" }}\n"
    "    {%- for tool in tools %}\n        {{- \"\\n\" }}\n        {{- tool | tojson }}\n    {%- endfor %}\n"
    "    {{- \"\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments "
    "within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\\"name\\\": <function-name>, \\\"arguments\\\": "
    "<args-json-object>}\\n</tool_call><|im_end|>\\n\" }}\n{%- else %}\n"
    "    {%- if messages[0]['role'] == 'system' %}\n"
    "        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}\n    {%- else %}\n"
    "        {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}\n"
    "    {%- endif %}\n{%- endif %}\n{%- for message in messages %}\n"
    "    {%- if (message.role == \"user\") or (message.role == \"system\" and not loop.first) or "
    "(message.role == \"assistant\" and not message.tool_calls) %}\n"
    "        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}\n"
    "    {%- elif message.role == \"assistant\" %}\n        {{- '<|im_start|>' + message.role }}\n"
    "        {%- if message.content %}\n            {{- '\\n' + message.content }}\n        {%- endif %}\n"
    "        {%- for tool_call in message.tool_calls %}\n            {%- if tool_call.function is defined %}\n"
    "                {%- set tool_call = tool_call.function %}\n            {%- endif %}\n"
    "            {{- '\\n<tool_call>\\n{\"name\": \"' }}\n            {{- tool_call.name }}\n"
    "            {{- '\", \"arguments\": ' }}\n            {{- tool_call.arguments | tojson }}\n"
    "            {{- '}\\n</tool_call>' }}\n        {%- endfor %}\n        {{- '<|im_end|>\\n' }}\n"
    "    {%- elif message.role == \"tool\" %}\n"
    "        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != \"tool\") %}\n"
    "            {{- '<|im_start|>user' }}\n        {%- endif %}\n        {{- '\\n<tool_response>\\n' }}\n"
    "        {{- message.content }}\n        {{- '\\n</tool_response>' }}\n"
    "        {%- if loop.last or (messages[loop.index0 + 1].role != \"tool\") %}\n"
    "            {{- '<|im_end|>\\n' }}\n        {%- endif %}\n    {%- endif %}\n{%- endfor %}\n"
    "{%- if add_generation_prompt %}\n    {{- '<|im_start|>assistant\\n' }}\n{%- endif %}\n"
)

TEMPLATES = pathlib.Path(__file__).resolve().parent / "templates"


def template(name):
    # Qwen3's (Qwen/Qwen3-0.6B, Apache-2.0) and rlif's own Llama 3 prompt-format template:
    # sources and licences in templates/NOTICE.md.
    return (TEMPLATES / name).read_text()


# ------------------------------------------------------------------ families
QWEN_TOKENIZER_CONFIG = {  # Qwen2.5 and Qwen3 share these
    "add_bos_token": False, "add_prefix_space": False, "bos_token": None,
    "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>", "errors": "replace",
    "model_max_length": 131072, "split_special_tokens": False,
    "tokenizer_class": "Qwen2Tokenizer", "unk_token": None, "clean_up_tokenization_spaces": False,
}

FAMILIES = {
    "qwen2": {
        "config": {
            "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 16,
            "intermediate_size": 24, "num_hidden_layers": 2, "num_attention_heads": 4,
            "num_key_value_heads": 2, "max_position_embeddings": 512, "max_window_layers": 2,
            "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "hidden_act": "silu", "sliding_window": 512,
            "use_sliding_window": False, "tie_word_embeddings": True, "use_cache": True,
            "attention_dropout": 0.0, "initializer_range": 0.02, "bos_token_id": 265, "eos_token_id": 267,
            "torch_dtype": "bfloat16", "transformers_version": "4.43.1",
        },
        "specials": ["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        "tokenizer_config": dict(QWEN_TOKENIZER_CONFIG, additional_special_tokens=["<|im_start|>", "<|im_end|>"]),
        "chat_template": QWEN25_TEMPLATE,
        "generation": {"bos_token_id": 265, "eos_token_id": [267, 265], "pad_token_id": 265,
                       "do_sample": True, "temperature": 0.7, "top_p": 0.8, "top_k": 20},
    },
    "qwen3": {
        "config": {
            "architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "hidden_size": 16,
            "head_dim": 8, "intermediate_size": 24, "num_hidden_layers": 2, "num_attention_heads": 4,
            "num_key_value_heads": 2, "max_position_embeddings": 512, "max_window_layers": 2,
            "rms_norm_eps": 1e-6, "rope_theta": 1000000.0, "rope_scaling": None, "hidden_act": "silu",
            "attention_bias": False, "sliding_window": None, "use_sliding_window": False,
            "tie_word_embeddings": False, "use_cache": True, "attention_dropout": 0.0,
            "initializer_range": 0.02, "bos_token_id": 265, "eos_token_id": 267,
            "torch_dtype": "bfloat16", "transformers_version": "4.51.0",
        },
        "specials": ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"],
        "tokenizer_config": QWEN_TOKENIZER_CONFIG,
        "chat_template": "Qwen-Qwen3-0.6B.jinja",
        "generation": {"bos_token_id": 265, "eos_token_id": [267, 265], "pad_token_id": 265,
                       "do_sample": True, "temperature": 0.6, "top_p": 0.95, "top_k": 20},
    },
    "llama": {
        "config": {
            "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 16,
            "head_dim": 8, "intermediate_size": 24, "num_hidden_layers": 2, "num_attention_heads": 2,
            "num_key_value_heads": 1, "max_position_embeddings": 512, "rms_norm_eps": 1e-5,
            "rope_theta": 10000.0, "hidden_act": "silu", "attention_bias": False, "mlp_bias": False,
            "rope_scaling": {"factor": 8.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                             "original_max_position_embeddings": 64, "rope_type": "llama3"},
            "tie_word_embeddings": True, "use_cache": True, "attention_dropout": 0.0,
            "pretraining_tp": 1, "initializer_range": 0.02, "bos_token_id": 265,
            "eos_token_id": [266, 269, 270], "torch_dtype": "bfloat16", "transformers_version": "4.45.0",
        },
        "specials": ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>",
                     "<|end_header_id|>", "<|eot_id|>", "<|eom_id|>"],
        "tokenizer_config": {
            "bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>",
            "clean_up_tokenization_spaces": True, "model_input_names": ["input_ids", "attention_mask"],
            "model_max_length": 131072, "tokenizer_class": "PreTrainedTokenizerFast",
        },
        "chat_template": "llama3-prompt-format.jinja",
        "generation": {"bos_token_id": 265, "eos_token_id": [266, 269, 270], "do_sample": True,
                       "temperature": 0.6, "top_p": 0.9},
    },
}
VOCAB_SIZE = 272  # above the tokenizer's size, as real checkpoints pad their embedding

LLAMA3_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                r"|\s*[\r\n]+|\s+(?!\S)|\s+")


def make_tokenizer(family, spec):
    tok = json.loads(BASE_TOKENIZER.read_text())
    base = min(t["id"] for t in tok["added_tokens"])  # 265: the BPE vocabulary ends below it
    for t in tok["added_tokens"]:
        tok["model"]["vocab"].pop(t["content"], None)
    tok["added_tokens"] = [
        {"id": base + i, "content": c, "single_word": False, "lstrip": False, "rstrip": False,
         "normalized": False, "special": True}
        for i, c in enumerate(spec["specials"])
    ]
    if family == "llama":
        tok["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = LLAMA3_SPLIT
        tok["normalizer"] = None
        bos = spec["specials"][0]
        tok["post_processor"] = {
            "type": "Sequence", "processors": [
                {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
                {"type": "TemplateProcessing",
                 "single": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                 "pair": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                          {"SpecialToken": {"id": bos, "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
                 "special_tokens": {bos: {"id": bos, "ids": [base], "tokens": [bos]}}},
            ]}
    return tok


def tokenizer_config(family, spec, tok):
    cfg = dict(spec["tokenizer_config"])
    cfg["added_tokens_decoder"] = {
        str(t["id"]): {k: t[k] for k in ("content", "lstrip", "normalized", "rstrip", "single_word", "special")}
        for t in tok["added_tokens"]
    }
    t = spec["chat_template"]
    cfg["chat_template"] = t if family == "qwen2" else template(t)
    return cfg


# ------------------------------------------------------------------ the model in float64
def init_params(cfg, gen):
    """make_golden's random weights, rounded to bfloat16 as the files store them; the golden values
    are computed from exactly those values."""
    return {name: random_weight(name, shape, gen).bfloat16().double().requires_grad_(True)
            for name, shape in param_shapes(cfg).items()}


def default_inv_freq(base, dim):
    # transformers' _compute_default_rope_parameters: float32
    return 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).to(dtype=torch.float) / dim))


def llama3_inv_freq(inv_freq, rope_scaling):
    # transformers' _compute_llama3_parameters, unchanged
    factor = rope_scaling["factor"]
    low_freq_factor = rope_scaling["low_freq_factor"]
    high_freq_factor = rope_scaling["high_freq_factor"]
    old_context_len = rope_scaling["original_max_position_embeddings"]
    low_freq_wavelen = old_context_len / low_freq_factor
    high_freq_wavelen = old_context_len / high_freq_factor
    wavelen = 2 * math.pi / inv_freq
    inv_freq_llama = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
    smooth_factor = (old_context_len / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
    smoothed_inv_freq = (1 - smooth_factor) * inv_freq_llama / factor + smooth_factor * inv_freq_llama
    is_medium_freq = ~(wavelen < high_freq_wavelen) * ~(wavelen > low_freq_wavelen)
    return torch.where(is_medium_freq, smoothed_inv_freq, inv_freq_llama)


def inv_freq_of(cfg, variant=None):
    _, _, _, D = dims(cfg)
    inv = default_inv_freq(cfg["rope_theta"], D)
    sc = cfg.get("rope_scaling")
    if sc and sc.get("rope_type") == "llama3" and variant != "no_rope_scaling":
        inv = llama3_inv_freq(inv, sc)
    return inv


def rms_norm(x, w, eps):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def logits_of(p, cfg, ids, variant=None):
    """variant (self-check only) drops one family feature: "no_qk_norm", "no_rope_scaling", "no_bias"."""
    Bn, Tn = ids.shape
    d, Hq, Hkv, D = dims(cfg)
    eps = cfg["rms_norm_eps"]
    freqs = torch.arange(Tn, dtype=torch.float64)[:, None] * inv_freq_of(cfg, variant).double()[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos(), emb.sin()
    causal = torch.triu(torch.ones(Tn, Tn, dtype=torch.bool), diagonal=1)
    x = p["model.embed_tokens.weight"][ids]
    for i in range(cfg["num_hidden_layers"]):
        pre = f"model.layers.{i}"
        h = rms_norm(x, p[f"{pre}.input_layernorm.weight"], eps)

        def proj(n, heads):
            b = p.get(f"{pre}.self_attn.{n}_proj.bias") if variant != "no_bias" else None
            return F.linear(h, p[f"{pre}.self_attn.{n}_proj.weight"], b).view(Bn, Tn, heads, D)

        q, k, v = proj("q", Hq), proj("k", Hkv), proj("v", Hkv)
        if cfg["model_type"] == "qwen3" and variant != "no_qk_norm":
            q = rms_norm(q, p[f"{pre}.self_attn.q_norm.weight"], eps)
            k = rms_norm(k, p[f"{pre}.self_attn.k_norm.weight"], eps)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(Hq // Hkv, dim=1)
        v = v.repeat_interleave(Hq // Hkv, dim=1)
        scores = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(D)
        attn = torch.softmax(scores.masked_fill(causal, float("-inf")), dim=-1)
        o = torch.matmul(attn, v).transpose(1, 2).reshape(Bn, Tn, Hq * D)
        x = x + F.linear(o, p[f"{pre}.self_attn.o_proj.weight"])
        h = rms_norm(x, p[f"{pre}.post_attention_layernorm.weight"], eps)
        mlp = F.silu(F.linear(h, p[f"{pre}.mlp.gate_proj.weight"])) * F.linear(h, p[f"{pre}.mlp.up_proj.weight"])
        x = x + F.linear(mlp, p[f"{pre}.mlp.down_proj.weight"])
    x = rms_norm(x, p["model.norm.weight"], eps)
    head = p["model.embed_tokens.weight"] if cfg["tie_word_embeddings"] else p["lm_head.weight"]
    return F.linear(x, head)


def save_sharded(params, out):
    """Two BF16 shards and the index, as save_pretrained names them."""
    names = list(params)
    split = next(i for i, n in enumerate(names) if n.startswith("model.layers.1."))
    shards = [names[:split], names[split:]]
    weight_map, total = {}, 0
    for i, shard in enumerate(shards):
        fname = f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
        tensors = {n: params[n].detach().bfloat16() for n in shard}
        st.save_file(tensors, out / fname, metadata={"format": "pt"})
        for n, t in tensors.items():
            weight_map[n] = fname
            total += t.numel() * 2
    index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
    (out / "model.safetensors.index.json").write_text(json.dumps(index, indent=2) + "\n")


def make_family(family, seed):
    spec = FAMILIES[family]
    cfg = dict(spec["config"], vocab_size=VOCAB_SIZE)
    out = OUT / f"{family}-tiny"
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.safetensors"):
        old.unlink()
    tok = make_tokenizer(family, spec)
    gen = torch.Generator().manual_seed(seed)
    params = init_params(cfg, gen)
    ids = torch.randint(0, len(tok["model"]["vocab"]) + len(tok["added_tokens"]), (B, T), generator=gen)
    logits = logits_of(params, cfg, ids)
    V = logits.shape[-1]
    loss = F.cross_entropy(logits[:, :-1].reshape(-1, V), ids[:, 1:].reshape(-1))
    loss.backward()
    variants = {"qwen2": ["no_bias"], "qwen3": ["no_qk_norm"], "llama": ["no_rope_scaling"]}[family]
    with torch.no_grad():  # the fixture must tell the family's equations from the others'
        for variant in variants:
            diff = (logits_of(params, cfg, ids, variant) - logits).abs().max().item()
            assert diff > 1e-3, f"{family}: variant {variant} gives the same logits ({diff})"
            print(f"  {family}: {variant} would move the logits by up to {diff:.3g}")

    (out / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
    (out / "generation_config.json").write_text(
        json.dumps(dict(spec["generation"], transformers_version=cfg["transformers_version"]), indent=2) + "\n")
    (out / "tokenizer.json").write_text(json.dumps(tok, ensure_ascii=False) + "\n")
    (out / "tokenizer_config.json").write_text(
        json.dumps(tokenizer_config(family, spec, tok), indent=2, ensure_ascii=False) + "\n")
    save_sharded(params, out)
    golden = {"input_ids": ids.double(), "logits": logits.detach(), "loss": loss.detach(),
              "inv_freq": inv_freq_of(cfg).double()}
    for k, v in params.items():
        golden[f"grad.{k}"] = v.grad
    st.save_file(golden, out / "golden.safetensors",
                 metadata={"batch": str(B), "seq_len": str(T), "seed": str(seed), "torch": torch.__version__})
    size = sum(f.stat().st_size for f in out.iterdir())
    print(f"{family}: loss {loss.item():.6f}, {sum(v.numel() for v in params.values())} parameters, {size} bytes")


def make_rounding_fixture():
    """float32 values and torch's rounding of them to bfloat16 and float16."""
    gen = torch.Generator().manual_seed(99)
    rand = torch.cat([torch.randn(200, generator=gen) * s for s in (1e-6, 1.0, 1e3)]).float()
    ones = torch.tensor([1.0], dtype=torch.float32)
    bf16_tie = (ones.view(torch.int32) + 0x8000).view(torch.float32)  # exactly half a bf16 ulp above 1
    bf16_tie_odd = ((ones.view(torch.int32) + 0x10000 + 0x8000)).view(torch.float32)
    f16_tie = torch.tensor([1 + 2.0 ** -11, 1 + 3 * 2.0 ** -11], dtype=torch.float32)
    edges = torch.tensor([0.0, -0.0, 65504.0, 65519.0, 65520.0, 1e6, -1e6, 2.0 ** -24, 2.0 ** -25,
                          3 * 2.0 ** -26, 2.0 ** -14, 2.0 ** -14 - 2.0 ** -25, 1e-30, 3.0e38,
                          float("inf"), float("-inf"), float("nan")], dtype=torch.float32)
    x = torch.cat([rand, bf16_tie, bf16_tie_odd, f16_tie, edges])
    st.save_file({"f32": x, "bf16": x.bfloat16(), "f16": x.half()}, OUT / "rounding.safetensors",
                 metadata={"torch": torch.__version__})


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for seed, family in enumerate(FAMILIES):
        make_family(family, 100 + seed)
    make_rounding_fixture()
    total = sum(f.stat().st_size for f in OUT.rglob("*") if f.is_file())
    print(f"fixtures written to {OUT.relative_to(ROOT)}: {total} bytes")


if __name__ == "__main__":
    torch.set_grad_enabled(True)
    main()
