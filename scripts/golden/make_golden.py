"""Golden values from PyTorch for rlif's engine and model tests.

Run from anywhere with Debian's torch (NOT a venv python):   /usr/bin/python3 scripts/golden/make_golden.py

Writes, under test/fixtures/golden/:
  qwen2_tiny_{tied,untied}/config.json        Hugging Face Qwen2 config of a tiny random model
  qwen2_tiny_{tied,untied}/model.safetensors  its weights, F32, Hugging Face tensor names
  qwen2_tiny_{tied,untied}/golden.safetensors F64: input_ids [B,T] (as floats), logits [B,T,V],
                                              loss [] (mean next-token cross entropy), and
                                              grad.<name> for every parameter
  safetensors_dtypes.safetensors              one tensor per dtype (F16, BF16, F64, I64, ...) next
                                              to torch's own conversion of it to float32

The model is Qwen2ForCausalLM's forward written out in plain PyTorch, in float64, following
transformers' modeling_qwen2.py equation for equation (RMSNorm, rotate_half RoPE, GQA by repeating
key/value heads, causal softmax attention scaled by 1/sqrt(head_dim), SwiGLU MLP, tied or untied
head). Weights are drawn in float64, rounded to float32 (what the file stores) and the golden values
are computed from those rounded weights, so that a float64 engine can match them to ~1e-12.

Finally it checks the interchange both ways: rlif's TypeScript reader loads every file written here
and re-writes it (scripts/golden/ts_resave.ts); this script reads those files back with its own
reader and asserts identical tensors and identical bytes.
"""

import json
import math
import pathlib
import subprocess
import sys
import tempfile

import torch
import torch.nn.functional as F

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import safetensors_io as st  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "test" / "fixtures" / "golden"

B, T = 2, 7
BASE_CONFIG = {
    "architectures": ["Qwen2ForCausalLM"],
    "model_type": "qwen2",
    "vocab_size": 37,
    "hidden_size": 16,
    "intermediate_size": 24,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 64,
    "rms_norm_eps": 1e-6,
    "rope_theta": 10000.0,
    "hidden_act": "silu",
    "torch_dtype": "float32",
}


def dims(cfg):
    d, Hq = cfg["hidden_size"], cfg["num_attention_heads"]
    return d, Hq, cfg["num_key_value_heads"], cfg.get("head_dim") or d // Hq


def param_shapes(cfg):
    """Hugging Face tensor names and shapes of a qwen2 / qwen3 / llama config, in a stable order."""
    d, Hq, Hkv, D = dims(cfg)
    V, ff = cfg["vocab_size"], cfg["intermediate_size"]
    bias = cfg["model_type"] == "qwen2" or cfg.get("attention_bias", False)
    shapes = {"model.embed_tokens.weight": (V, d)}
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}"
        shapes[f"{p}.input_layernorm.weight"] = (d,)
        for n, rows in (("q", Hq * D), ("k", Hkv * D), ("v", Hkv * D)):
            shapes[f"{p}.self_attn.{n}_proj.weight"] = (rows, d)
            if bias:
                shapes[f"{p}.self_attn.{n}_proj.bias"] = (rows,)
        shapes[f"{p}.self_attn.o_proj.weight"] = (d, Hq * D)
        if cfg["model_type"] == "qwen3":
            shapes[f"{p}.self_attn.q_norm.weight"] = (D,)
            shapes[f"{p}.self_attn.k_norm.weight"] = (D,)
        shapes[f"{p}.post_attention_layernorm.weight"] = (d,)
        shapes[f"{p}.mlp.gate_proj.weight"] = (ff, d)
        shapes[f"{p}.mlp.up_proj.weight"] = (ff, d)
        shapes[f"{p}.mlp.down_proj.weight"] = (d, ff)
    shapes["model.norm.weight"] = (d,)
    if not cfg["tie_word_embeddings"]:
        shapes["lm_head.weight"] = (V, d)
    return shapes


def random_weight(name, shape, gen):
    """A random float64 weight, scaled so that softmaxes are neither flat nor saturated; norm
    weights and biases are random too, so their gradients are exercised."""
    if name.endswith("norm.weight"):
        return 1 + 0.2 * torch.randn(shape, generator=gen, dtype=torch.float64)
    if name.endswith(".bias"):
        return 0.2 * torch.randn(shape, generator=gen, dtype=torch.float64)
    return 0.4 * torch.randn(shape, generator=gen, dtype=torch.float64)


def init_params(cfg, gen):
    # What the file holds is float32: compute everything from exactly those values.
    return {name: random_weight(name, shape, gen).float().double().requires_grad_(True)
            for name, shape in param_shapes(cfg).items()}


# ------------------------------------------------------------------ Qwen2 in float64
def rms_norm(x, w, eps):
    variance = x.pow(2).mean(-1, keepdim=True)
    return w * (x * torch.rsqrt(variance + eps))


def rope_interleaved(x, cos, sin):
    """The GPT-J/Meta layout, rotating pairs (2i, 2i+1): a mistake for Hugging Face weights."""
    half = x.shape[-1] // 2
    c, s = cos[..., :half], sin[..., :half]
    x1, x2 = x[..., 0::2], x[..., 1::2]
    return torch.stack((x1 * c - x2 * s, x2 * c + x1 * s), dim=-1).flatten(-2)


def rotate_half(x):
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def rotary_cos_sin(T, D, theta):
    # transformers keeps inv_freq as a float32 buffer, computed in float32 (even in a float64
    # model): the same rounded frequencies here; angles, cos and sin are then float64.
    inv_freq = (1.0 / (theta ** (torch.arange(0, D, 2, dtype=torch.int64).float() / D))).double()
    freqs = torch.arange(T, dtype=torch.float64)[:, None] * inv_freq[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)  # [T, D]
    return emb.cos(), emb.sin()


def repeat_kv(x, n_rep):
    """[B, Hkv, T, D] -> [B, Hkv*n_rep, T, D]; query head h uses key/value head h // n_rep."""
    b, hkv, t, d = x.shape
    if n_rep == 1:
        return x
    return x[:, :, None, :, :].expand(b, hkv, n_rep, t, d).reshape(b, hkv * n_rep, t, d)


def qwen2_logits(p, cfg, ids, variant=None):
    """variant (self-check only) swaps in a common mistake: "kv_modulo" (query head h reads
    key/value head h % Hkv), "rope_interleaved" (GPT-J pairs (2i, 2i+1) instead of rotate_half),
    "no_causal_mask"."""
    Bn, Tn = ids.shape
    d, Hq, Hkv = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    D = d // Hq
    eps = cfg["rms_norm_eps"]
    cos, sin = rotary_cos_sin(Tn, D, cfg["rope_theta"])
    causal = torch.triu(torch.ones(Tn, Tn, dtype=torch.bool), diagonal=1)
    x = p["model.embed_tokens.weight"][ids]  # [B, T, d]
    for i in range(cfg["num_hidden_layers"]):
        pre = f"model.layers.{i}"
        h = rms_norm(x, p[f"{pre}.input_layernorm.weight"], eps)
        q = F.linear(h, p[f"{pre}.self_attn.q_proj.weight"], p[f"{pre}.self_attn.q_proj.bias"])
        k = F.linear(h, p[f"{pre}.self_attn.k_proj.weight"], p[f"{pre}.self_attn.k_proj.bias"])
        v = F.linear(h, p[f"{pre}.self_attn.v_proj.weight"], p[f"{pre}.self_attn.v_proj.bias"])
        q = q.view(Bn, Tn, Hq, D).transpose(1, 2)
        k = k.view(Bn, Tn, Hkv, D).transpose(1, 2)
        v = v.view(Bn, Tn, Hkv, D).transpose(1, 2)
        if variant == "rope_interleaved":
            q, k = rope_interleaved(q, cos, sin), rope_interleaved(k, cos, sin)
        else:
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
        if variant == "kv_modulo":
            k, v = k.repeat(1, Hq // Hkv, 1, 1), v.repeat(1, Hq // Hkv, 1, 1)
        else:
            k = repeat_kv(k, Hq // Hkv)
            v = repeat_kv(v, Hq // Hkv)
        scores = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(D)
        if variant != "no_causal_mask":
            scores = scores.masked_fill(causal, float("-inf"))
        attn = torch.softmax(scores, dim=-1)
        o = torch.matmul(attn, v).transpose(1, 2).reshape(Bn, Tn, Hq * D)
        x = x + F.linear(o, p[f"{pre}.self_attn.o_proj.weight"])
        h = rms_norm(x, p[f"{pre}.post_attention_layernorm.weight"], eps)
        gate = F.linear(h, p[f"{pre}.mlp.gate_proj.weight"])
        up = F.linear(h, p[f"{pre}.mlp.up_proj.weight"])
        x = x + F.linear(F.silu(gate) * up, p[f"{pre}.mlp.down_proj.weight"])
    x = rms_norm(x, p["model.norm.weight"], eps)
    head = p["model.embed_tokens.weight"] if cfg["tie_word_embeddings"] else p["lm_head.weight"]
    return F.linear(x, head)  # [B, T, V]


def next_token_loss(logits, ids):
    """Mean cross entropy of predicting ids[:, t+1] from position t (the last position has no target)."""
    V = logits.shape[-1]
    return F.cross_entropy(logits[:, :-1].reshape(-1, V), ids[:, 1:].reshape(-1))


# ------------------------------------------------------------------ fixtures
def make_model_fixture(name, tied, seed):
    cfg = dict(BASE_CONFIG, tie_word_embeddings=tied)
    gen = torch.Generator().manual_seed(seed)
    params = init_params(cfg, gen)
    ids = torch.randint(0, cfg["vocab_size"], (B, T), generator=gen)
    logits = qwen2_logits(params, cfg, ids)
    loss = next_token_loss(logits, ids)
    loss.backward()
    with torch.no_grad():  # the fixture must tell the right equations from common mistakes
        for variant in ["kv_modulo", "rope_interleaved", "no_causal_mask"]:
            diff = (qwen2_logits(params, cfg, ids, variant) - logits).abs().max().item()
            assert diff > 1e-3, f"{name}: variant {variant} gives the same logits ({diff})"
            print(f"  {name}: {variant} would move the logits by up to {diff:.3g}")

    out = OUT / name
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
    st.save_file({k: v.detach().float() for k, v in params.items()}, out / "model.safetensors",
                 metadata={"format": "pt"})
    golden = {"input_ids": ids.double(), "logits": logits.detach(), "loss": loss.detach()}
    for k, v in params.items():
        golden[f"grad.{k}"] = v.grad
    st.save_file(golden, out / "golden.safetensors",
                 metadata={"batch": str(B), "seq_len": str(T), "seed": str(seed),
                           "torch": torch.__version__})
    print(f"{name}: loss {loss.item():.6f}, {sum(v.numel() for v in params.values())} parameters")
    return [out / "model.safetensors", out / "golden.safetensors"]


def make_dtype_fixture():
    f16 = torch.tensor([0.0, -0.0, 1.0, -2.5, 65504.0, 2.0 ** -14, 2.0 ** -24, 3 * 2.0 ** -24,
                        float("inf"), float("-inf"), float("nan"), 0.1], dtype=torch.float16).view(3, 4)
    bf16 = torch.tensor([0.0, -0.0, 1.0, -2.5, 3.0e38, 1.0e-39, float("inf"), float("-inf"),
                         float("nan"), 0.1, -123.456, 7.0], dtype=torch.bfloat16).view(2, 6)
    f64 = torch.tensor([1 / 3, -1e-300, 1e300, 2.0 ** -149, 123456789.123456789, -0.0],
                       dtype=torch.float64)
    tensors = {
        "f16": f16, "f16.as_f32": f16.float(),
        "bf16": bf16, "bf16.as_f32": bf16.float(),
        "f64": f64, "f64.as_f32": f64.float(),
        "i64": torch.tensor([[0, -1], [2 ** 40, -(2 ** 24)]], dtype=torch.int64),
        "i32": torch.tensor([5, -7, 2 ** 24], dtype=torch.int32),
        "i16": torch.tensor([-32768, 32767], dtype=torch.int16),
        "u8": torch.tensor([0, 255, 7], dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]),
        "scalar": torch.tensor(2.5, dtype=torch.float32),
        "empty": torch.zeros(0, 3, dtype=torch.float32),
    }
    path = OUT / "safetensors_dtypes.safetensors"
    st.save_file(tensors, path, metadata={"format": "pt", "note": "rlif dtype fixture, \"quoted\" é"})
    return path


def check_typescript_round_trip(paths):
    """rlif reads each file and writes it back; Python must read back the same tensors and bytes
    (files with only F32/F64 tensors: the TypeScript writer stores only those two dtypes)."""
    with tempfile.TemporaryDirectory() as tmp:
        outs = [pathlib.Path(tmp) / f"{i}.safetensors" for i in range(len(paths))]
        args = [str(a) for pair in zip(paths, outs) for a in pair]
        subprocess.run(["node", "--import", "tsx", "scripts/golden/ts_resave.ts", *args], cwd=ROOT, check=True)
        for src, dst in zip(paths, outs):
            a, ma = st.load_file(src)
            b, mb = st.load_file(dst)
            assert ma == mb, f"{src}: metadata differs after the TypeScript round trip"
            assert a.keys() == b.keys(), f"{src}: tensor names differ"
            for k in a:
                assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape, f"{src}: {k} differs"
                assert torch.equal(a[k], b[k]), f"{src}: {k} values differ"
            assert src.read_bytes() == dst.read_bytes(), f"{src}: bytes differ after the round trip"
    print(f"TypeScript round trip: {len(paths)} files read back identical (tensors and bytes)")


def main():
    torch.set_grad_enabled(True)
    files = make_model_fixture("qwen2_tiny_tied", tied=True, seed=1234)
    files += make_model_fixture("qwen2_tiny_untied", tied=False, seed=5678)
    check_typescript_round_trip(files)
    configs = [OUT / n / "config.json" for n in ("qwen2_tiny_tied", "qwen2_tiny_untied")]
    total = sum(f.stat().st_size for f in files + configs + [make_dtype_fixture()])
    print(f"fixtures written to {OUT.relative_to(ROOT)}: {total} bytes")


if __name__ == "__main__":
    main()
