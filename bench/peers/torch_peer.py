# PyTorch CPU peer of the side-by-side benchmark (bench/main.ts runs it as a child process).
# The same Qwen2-shaped decoder as src/model/transformer.ts, written out in plain torch ops:
# RMSNorm, RoPE (rotate_half), GQA causal attention, SwiGLU, tied LM head, q/k/v biases; the same
# training step (next-token cross-entropy, backward, AdamW) and the same batched sampling with a
# preallocated KV cache (temperature, log p / entropy / self-certainty of each drawn token).
# Prints one line "RESULT {json}" with per-repetition times; bench/main.ts takes the medians.
# Needs torch 1.13+ (Debian python3-torch at /usr/bin/python3).

import argparse
import json
import math
import resource
import sys
import time

import torch
import torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument("--config", required=True, help="model config as JSON (Hugging Face names)")
p.add_argument("--threads", type=int, default=1)
p.add_argument("--batch", type=int, default=64)
p.add_argument("--seq", type=int, default=128)
p.add_argument("--prompts", type=int, default=64)
p.add_argument("--prompt-len", type=int, default=16)
p.add_argument("--new-tokens", type=int, default=112)
p.add_argument("--reps", type=int, default=3)
p.add_argument("--warmup", type=int, default=1)
p.add_argument("--matmul", default="8192,256,768")
p.add_argument("--skip", default="", help="comma list of train,sample,matmul to skip")
args = p.parse_args()
torch.set_num_threads(args.threads)
torch.manual_seed(0)
cfg = json.loads(args.config)
skip = set(s for s in args.skip.split(",") if s)

V, d, L = cfg["vocab_size"], cfg["hidden_size"], cfg["num_hidden_layers"]
Hq, Hkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
D, ff = d // Hq, cfg["intermediate_size"]
eps, theta = cfg.get("rms_norm_eps", 1e-6), cfg.get("rope_theta", 10000.0)
G = Hq // Hkv


def rmsnorm(x, w):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rope_tables(T):
    inv = 1.0 / (theta ** (torch.arange(0, D, 2, dtype=torch.float32) / D))
    ang = torch.outer(torch.arange(T, dtype=torch.float32), inv)
    ang = torch.cat([ang, ang], -1)
    return ang.cos(), ang.sin()


def rope(x, cos, sin):  # x [B, H, T, D]; cos/sin [T, D]
    x1, x2 = x[..., : D // 2], x[..., D // 2 :]
    return x * cos + torch.cat([-x2, x1], -1) * sin


class Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        std = cfg.get("initializer_range", 0.02)
        P = torch.nn.Parameter
        self.embed = P(torch.randn(V, d) * std)
        self.layers = torch.nn.ModuleList()
        for _ in range(L):
            m = torch.nn.Module()
            m.ln1 = P(torch.ones(d))
            m.q = torch.nn.Linear(d, Hq * D)
            m.k = torch.nn.Linear(d, Hkv * D)
            m.v = torch.nn.Linear(d, Hkv * D)
            m.o = torch.nn.Linear(Hq * D, d, bias=False)
            m.ln2 = P(torch.ones(d))
            m.gate = torch.nn.Linear(d, ff, bias=False)
            m.up = torch.nn.Linear(d, ff, bias=False)
            m.down = torch.nn.Linear(ff, d, bias=False)
            for lin in (m.q, m.k, m.v, m.o, m.gate, m.up, m.down):
                torch.nn.init.normal_(lin.weight, std=std)
                if lin.bias is not None:
                    torch.nn.init.zeros_(lin.bias)
            self.layers.append(m)
        self.norm = P(torch.ones(d))

    def forward(self, ids, pos0=0, cache=None):
        """ids [B, T] at positions pos0..pos0+T-1; cache: list of (k, v) [B, Hkv, cap, D] or None."""
        B, T = ids.shape
        cos, sin = rope_tables(pos0 + T)
        cos, sin = cos[pos0:], sin[pos0:]
        x = F.embedding(ids, self.embed)
        Tk = pos0 + T
        mask = torch.ones(T, Tk, dtype=torch.bool).tril(pos0)  # query i sees keys <= pos0 + i
        for l, m in enumerate(self.layers):
            h = rmsnorm(x, m.ln1)
            q = rope(m.q(h).view(B, T, Hq, D).transpose(1, 2), cos, sin)
            k = rope(m.k(h).view(B, T, Hkv, D).transpose(1, 2), cos, sin)
            v = m.v(h).view(B, T, Hkv, D).transpose(1, 2)
            if cache is not None:
                ck, cv = cache[l]
                ck[:, :, pos0:Tk] = k
                cv[:, :, pos0:Tk] = v
                k, v = ck[:, :, :Tk], cv[:, :, :Tk]
            # GQA without copying keys: the G query heads of a kv head become G*T query rows.
            qg = q.reshape(B, Hkv, G * T, D)
            s = qg @ k.transpose(-1, -2) / math.sqrt(D)  # [B, Hkv, G*T, Tk]
            s = s.view(B, Hkv, G, T, Tk).masked_fill(~mask, float("-inf"))
            a = (s.softmax(-1).view(B, Hkv, G * T, Tk) @ v).view(B, Hq, T, D)
            x = x + m.o(a.transpose(1, 2).reshape(B, T, Hq * D))
            h2 = rmsnorm(x, m.ln2)
            x = x + m.down(F.silu(m.gate(h2)) * m.up(h2))
        return rmsnorm(x, self.norm) @ self.embed.t()  # tied LM head


def lcg_ids(n, seed):
    """Deterministic token ids, the same sequence bench/peers/common.ts makes."""
    out, s = [], seed
    for _ in range(n):
        s = (s * 1103515245 + 12345) % 2147483648
        out.append(s % V)
    return torch.tensor(out, dtype=torch.long)


def timed(fn, reps, warmup, cpu=None):
    """Wall ms of each run; the process's CPU ms (all threads) appended to cpu if given."""
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(reps):
        c0 = time.process_time()
        t0 = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1000)
        if cpu is not None:
            cpu.append((time.process_time() - c0) * 1000)
    return ts


model = Model()
params = sum(t.numel() for t in model.parameters())
decay = [t for n, t in model.named_parameters() if n.endswith("weight") and t.dim() == 2 or n == "embed"]
no_decay = [t for n, t in model.named_parameters() if not (n.endswith("weight") and t.dim() == 2 or n == "embed")]
opt = torch.optim.AdamW(
    [{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}], lr=1e-3
)
result = {"impl": "pytorch_cpu", "threads": args.threads, "torch": torch.__version__, "params": params}

if "train" not in skip:
    B, T = args.batch, args.seq
    ids = lcg_ids(B * T, 1).view(B, T)
    losses = []

    def train_step():
        opt.zero_grad(set_to_none=False)
        logits = model(ids)
        loss = F.cross_entropy(logits[:, :-1].reshape(-1, V), ids[:, 1:].reshape(-1))
        loss.backward()
        opt.step()
        losses.append(loss.item())

    result["train_cpu_ms"] = []
    result["train_ms"] = timed(train_step, args.reps, args.warmup, result["train_cpu_ms"])
    result["train_tokens"] = B * T
    result["first_loss"] = losses[0]

if "sample" not in skip:
    P, Tp, N = args.prompts, args.prompt_len, args.new_tokens
    prompts = lcg_ids(P * Tp, 2).view(P, Tp)
    gen = torch.Generator().manual_seed(0)

    @torch.no_grad()
    def sample():
        cache = [(torch.zeros(P, Hkv, Tp + N, D), torch.zeros(P, Hkv, Tp + N, D)) for _ in range(L)]
        logits = model(prompts, 0, cache)[:, -1]
        toks, pos = [], Tp
        for step in range(N):
            z = logits / 1.0
            logp = z.log_softmax(-1)
            probs = logp.exp()
            tok = torch.multinomial(probs, 1, generator=gen)
            # The per-token quantities rlif's sampler records: log p(token), entropy, self-certainty.
            _ = logp.gather(1, tok), -(probs * logp).sum(-1), -logp.mean(-1) - math.log(V)
            toks.append(tok)
            if step == N - 1:
                break
            logits = model(tok, pos, cache)[:, -1]
            pos += 1
        return torch.cat(toks, 1)

    result["sample_cpu_ms"] = []
    result["sample_ms"] = timed(sample, args.reps, args.warmup, result["sample_cpu_ms"])
    result["sample_tokens"] = P * N

if "matmul" not in skip:
    M, K, Nn = (int(s) for s in args.matmul.split(","))
    a, b = torch.randn(M, K), torch.randn(K, Nn)
    c = torch.empty(M, Nn)
    result["matmul_ms"] = timed(lambda: torch.mm(a, b, out=c), max(args.reps, 5), 2)
    result["matmul_flops"] = 2 * M * K * Nn

result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print("RESULT " + json.dumps(result))
sys.stdout.flush()
