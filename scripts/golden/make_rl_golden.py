#!/usr/bin/python3
"""Golden values for the RL pieces (src/rewards, src/rl), computed with PyTorch in float64.

Run with the system Python that has torch 1.13:
    /usr/bin/python3 scripts/golden/make_rl_golden.py
Writes test/fixtures/rl/golden.json. The batch is laid out padded, [B, Tmax] as verl does,
and every quantity is computed the way verl / TRL compute it (log_softmax + gather, masked
means over the padded layout), independently of the TypeScript per-token-weight formulation.
"""
import itertools
import json
import math
import os

import torch
import torch.nn.functional as F

torch.manual_seed(1234)
DT = torch.float64
V = 5
LENGTHS = [3, 1, 5, 2, 4, 4, 1, 5, 2, 3, 5, 1]  # 3 groups x 4 responses, incl. 1-token ones
G = 4
B = len(LENGTHS)
TMAX = 5
N = B * TMAX
MAX_LEN = 8  # the constant divisor of seq-mean-token-sum-norm


def r4(x):
    """Round inputs to 4 decimals so the fixture stays small; both sides then use these exact values."""
    return torch.round(x * 1e4) / 1e4


mask = torch.zeros(B, TMAX, dtype=DT)
for b, n in enumerate(LENGTHS):
    mask[b, :n] = 1
seq_index = torch.arange(B).repeat_interleave(TMAX)
logits = r4(torch.randn(N, V, dtype=DT) * 3)
logits[2, 1] = 50.0  # extreme logits: a near-one-hot row and a near-zero target probability
logits[7, :] = torch.tensor([-50.0, 50.0, 0.0, 3.0, -2.0], dtype=DT)
logits[11, 4] = -50.0
targets = torch.randint(0, V, (N,))
targets[7] = 0  # log p ≈ −100 at an extreme row
targets[2] = 1


def stats_from_logits(z):
    lsm = F.log_softmax(z, dim=-1)
    logp = lsm.gather(1, targets[:, None])[:, 0]
    ent = -(lsm.exp() * lsm).sum(-1)
    return logp, ent


with torch.no_grad():
    logp0, ent0 = stats_from_logits(logits)
    old_logp = r4(logp0 + 0.3 * torch.randn(N, dtype=DT))
    old_logp[4] = r4(logp0[4] - 25.3)  # log-ratio beyond +20: the ratio is bounded
    old_logp[12] = r4(logp0[12] + 23.7)  # and beyond −20
    ref_logp = r4(logp0 + 0.5 * torch.randn(N, dtype=DT))
    ref_logp[15] = r4(logp0[15] + 24.1)  # k3 beyond its ±20 bound

# Rewards: group 0 continuous, group 1 all equal (zero advantages), group 2 binary.
rewards = torch.tensor([0.3, -1.2, 0.75, 2.0, 0.5, 0.5, 0.5, 0.5, 1.0, 0.0, 0.0, 1.0], dtype=DT)
groups = torch.arange(B) // G


def grpo(r, norm_std=True, eps=1e-6):
    out = torch.zeros_like(r)
    for g in groups.unique():
        idx = groups == g
        x = r[idx]
        a = x - x.mean()
        if norm_std:
            a = a / (x.std(unbiased=True) + eps)
        out[idx] = a
    return out


def rloo(r):
    out = torch.zeros_like(r)
    for g in groups.unique():
        idx = groups == g
        x = r[idx]
        out[idx] = x - (x.sum() - x) / (len(x) - 1)
    return out


def reinforce(r, whiten):
    a = r - r.mean()
    return a / (r.std(unbiased=True) + 1e-6) if whiten else a


adv_seq = grpo(rewards)
adv_tok = adv_seq.repeat_interleave(TMAX)


def kl_term(logp, kind):
    delta = logp - ref_logp
    if kind == "k1":
        return delta
    if kind == "k2":
        return 0.5 * delta**2
    d = torch.clamp(delta, -20, 20)
    return torch.exp(-d) + d - 1


def per_token_loss(logp, ent, cfg):
    ratio = torch.exp(torch.clamp(logp - old_logp, -20, 20))
    pg1 = -adv_tok * ratio
    pg2 = -adv_tok * torch.clamp(ratio, 1 - cfg["clipLow"], 1 + cfg["clipHigh"])
    loss = torch.maximum(pg1, pg2)  # = −min(ρA, clip(ρ)A)
    if cfg["klType"] is not None:
        loss = loss + cfg["klCoef"] * kl_term(logp, cfg["klType"])
    return loss - cfg["entropyCoef"] * ent


def aggregate(loss_tok, agg):
    L = loss_tok.view(B, TMAX) * mask
    if agg == "token-mean":
        return L.sum() / mask.sum()
    seq_sum = L.sum(-1)
    if agg == "seq-mean-token-mean":
        return (seq_sum / mask.sum(-1)).mean()
    if agg == "seq-mean-token-sum":
        return seq_sum.mean()
    if agg == "seq-mean-token-sum-norm":
        return (seq_sum / MAX_LEN).mean()
    raise ValueError(agg)


AGGS = ["token-mean", "seq-mean-token-mean", "seq-mean-token-sum", "seq-mean-token-sum-norm"]
KLS = [None, "k1", "k2", "k3"]
CLIPS = [(0.2, 0.2), (0.2, 0.28)]

cases = []
per_token = []
for kl, (lo, hi) in itertools.product(KLS, CLIPS):
    # entropy bonus on with clip-higher, so half the cases also differentiate through H_t
    base = {"clipLow": lo, "clipHigh": hi, "klType": kl, "klCoef": 0.05 if kl else 0.0,
            "entropyCoef": 0.01 if hi != lo else 0.0}
    with torch.no_grad():
        per_token.append({**base, "perToken": per_token_loss(logp0, ent0, base).tolist()})
    for agg in AGGS:
        cfg = {**base, "aggregation": agg}
        z = logits.clone().requires_grad_(True)
        logp, ent = stats_from_logits(z)
        logp.retain_grad()
        loss = aggregate(per_token_loss(logp, ent, cfg), agg)
        loss.backward()
        case = {**cfg, "loss": loss.item(), "gradLogp": logp.grad.tolist()}
        # dL/dlogits for the k3 cases only (with and without the entropy path): keeps the file small
        if kl == "k3" and (cfg["entropyCoef"] or agg == "token-mean"):
            case["gradLogits"] = z.grad.flatten().tolist()
        cases.append(case)

# Per-response rewards from the logits; self-certainty through torch's kl_div, KL(U || p).
with torch.no_grad():
    lsm = F.log_softmax(logits, -1)
    p = lsm.exp()
    sc = F.kl_div(lsm, torch.full_like(p, 1.0 / V), reduction="none").sum(-1)  # KL(U || p)
    m = mask.flatten()
    reward_rows = []
    for b in range(B):
        sl = slice(b * TMAX, (b + 1) * TMAX)
        T = m[sl].sum()
        reward_rows.append({
            "self-certainty": float((sc[sl] * m[sl]).sum() / T),
            "token-entropy": float(-(ent0[sl] * m[sl]).sum() / T),
            "trajectory-entropy": float((logp0[sl] * m[sl]).sum() / T),
            "trajectory-entropy-sum": float((logp0[sl] * m[sl]).sum()),
        })

pass_at_k = []
for n, c, k in [(10, 3, 1), (10, 3, 5), (10, 8, 3), (5, 0, 2), (200, 13, 10), (200, 1, 100), (16, 16, 4)]:
    val = 1 - math.comb(n - c, k) / math.comb(n, k) if n - c >= k else 1.0
    pass_at_k.append({"n": n, "c": c, "k": k, "value": val})

out = {
    "V": V, "B": B, "Tmax": TMAX, "lengths": LENGTHS, "groupSize": G, "maxLen": MAX_LEN,
    "logits": logits.flatten().tolist(),
    "targets": targets.tolist(),
    "mask": mask.flatten().tolist(),
    "seqIndex": seq_index.tolist(),
    "oldLogp": old_logp.tolist(),
    "refLogp": ref_logp.tolist(),
    "logp": logp0.tolist(),
    "entropy": ent0.tolist(),
    "rewards": rewards.tolist(),
    "groups": groups.tolist(),
    "advantages": {
        "grpo": adv_seq.tolist(),
        "grpoNoStd": grpo(rewards, norm_std=False).tolist(),
        "rloo": rloo(rewards).tolist(),
        "reinforce": reinforce(rewards, False).tolist(),
        "reinforceWhiten": reinforce(rewards, True).tolist(),
    },
    "perToken": per_token,
    "cases": cases,
    "responseRewards": reward_rows,
    "passAtK": pass_at_k,
}
path = os.path.join(os.path.dirname(__file__), "..", "..", "test", "fixtures", "rl", "golden.json")
with open(path, "w") as f:
    json.dump(out, f, separators=(",", ":"))
    f.write("\n")
print(f"wrote {os.path.normpath(path)}: {len(cases)} loss cases, {os.path.getsize(path)} bytes")
