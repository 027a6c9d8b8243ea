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


# ---- policy-loss variants (src/rl/surrogates.ts) and the covariance selections (src/rl/covariance.ts)
# One old policy for all of them, moved on three response tokens so that the dual clip (two A < 0
# tokens at ratios e^1.5 and e^2 > c = 3) and the high clip (an A > 0 token at e^1.2) bite.
old_m = old_logp.clone()
neg_tokens = [t for t in range(N) if mask.flatten()[t] > 0 and adv_tok[t] < 0]
pos_tokens = [t for t in range(N) if mask.flatten()[t] > 0 and adv_tok[t] > 0]
old_m[neg_tokens[0]] = r4(logp0[neg_tokens[0]] - 1.5)
old_m[neg_tokens[-1]] = r4(logp0[neg_tokens[-1]] - 2.0)
old_m[pos_tokens[0]] = r4(logp0[pos_tokens[0]] - 1.2)
m_flat = mask.flatten()
COV_RATIO = 0.1  # 10% of the 36 response tokens: 3 selected
CLIP_C = 3.0
COV_LB, COV_UB = 0.2, 5.0
KL_COV_COEF = 1.0


def token_cov(logp):
    valid = m_flat > 0
    a = adv_tok[valid]
    lp = logp.detach()[valid]
    cov = torch.full((N,), float("nan"), dtype=DT)
    cov[valid] = (a - a.mean()) * (lp - lp.mean())
    return cov


def ratio_of(logp):
    return torch.exp(torch.clamp(logp - old_m, -20, 20))


def surr_vanilla(logp, dual):
    ratio = ratio_of(logp)
    pg1 = -adv_tok * ratio
    pg2 = -adv_tok * torch.clamp(ratio, 0.8, 1.2)
    loss = torch.maximum(pg1, pg2)
    if dual:  # verl: where(A < 0, min(-A c, max(pg1, pg2)), max(pg1, pg2))
        loss = torch.where(adv_tok < 0, torch.minimum(-adv_tok * CLIP_C, loss), loss)
    return loss


def surr_gspo(logp):
    L = mask.sum(-1).clamp(min=1)
    seq = ((logp - old_m).view(B, TMAX) * mask).sum(-1) / L
    log_r = logp - logp.detach() + seq.detach().repeat_interleave(TMAX)
    ratio = torch.exp(torch.clamp(log_r, -20, 20))
    return torch.maximum(-adv_tok * ratio, -adv_tok * torch.clamp(ratio, 0.8, 1.2))


def clip_cov_sets(logp):
    ratio = ratio_of(logp.detach())
    clipped = (-adv_tok * torch.clamp(ratio, 0.8, 1.2)) > (-adv_tok * ratio)
    cov = token_cov(logp)
    cand = [t for t in range(N) if m_flat[t] > 0 and not clipped[t] and COV_LB < cov[t] < COV_UB]
    k = max(1, int(COV_RATIO * m_flat.sum().item()))
    return cand, cand[:k]  # the TypeScript test draws with random() = 0: the first k candidates


def surr_clip_cov(logp):
    _, sel = clip_cov_sets(logp)
    corr = torch.ones(N, dtype=DT)
    corr[sel] = 0
    return surr_vanilla(logp, False) * corr


def kl_cov_set(logp):
    cov = token_cov(logp)
    valid = torch.nonzero(m_flat > 0)[:, 0]
    k = max(1, int(len(valid) * COV_RATIO))
    top = torch.topk(cov[valid], k, largest=True).indices
    return sorted(valid[top].tolist())


def surr_kl_cov(logp):
    sel = kl_cov_set(logp)
    loss = -adv_tok * ratio_of(logp)
    pen = torch.zeros(N, dtype=DT)
    pen[sel] = 1
    return loss + KL_COV_COEF * (logp - old_m).abs() * pen


VARIANTS = {
    "vanilla": lambda lp: surr_vanilla(lp, False),
    "dual-clip": lambda lp: surr_vanilla(lp, True),
    "unclipped": lambda lp: -adv_tok * ratio_of(lp),
    "gspo": surr_gspo,
    "clip-cov": surr_clip_cov,
    "kl-cov": surr_kl_cov,
}
method_cases = []
for name, fn in VARIANTS.items():
    for agg in ["token-mean", "seq-mean-token-mean"]:
        z = logits.clone().requires_grad_(True)
        logp, _ = stats_from_logits(z)
        logp.retain_grad()
        per_tok = fn(logp)
        loss = aggregate(per_tok, agg)
        loss.backward()
        method_cases.append({"policyLoss": name, "aggregation": agg, "loss": loss.item(),
                             "perToken": (per_tok.detach() * m_flat).tolist(), "gradLogp": logp.grad.tolist()})
cov0 = token_cov(logp0)
cand0, sel0 = clip_cov_sets(logp0)
ratio0 = ratio_of(logp0)
valid0 = m_flat > 0
dual_count = int(((adv_tok < 0) & valid0 & (torch.maximum(-adv_tok * ratio0, -adv_tok * torch.clamp(ratio0, 0.8, 1.2)) > -adv_tok * CLIP_C)).sum())
assert len(cand0) > len(sel0) >= 3 and dual_count >= 1, (cand0, sel0, dual_count)
methods = {
    "oldLogp": old_m.tolist(), "covRatio": COV_RATIO, "clipRatioC": CLIP_C, "covLb": COV_LB, "covUb": COV_UB,
    "klCovCoef": KL_COV_COEF,
    "covariance": [None if math.isnan(x) else x for x in cov0.tolist()],
    "covarianceMean": float(cov0[valid0].mean()),
    "clipCovCandidates": cand0, "clipCovSelected": sel0, "klCovSelected": kl_cov_set(logp0),
    "clippedLow": int(((ratio0 < 0.8) & (adv_tok < 0) & valid0).sum()),
    "clippedHigh": int(((ratio0 > 1.2) & (adv_tok > 0) & valid0).sum()),
    "clippedDual": dual_count,
    "cases": method_cases,
}

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
    "methods": methods,
}
path = os.path.join(os.path.dirname(__file__), "..", "..", "test", "fixtures", "rl", "golden.json")
with open(path, "w") as f:
    json.dump(out, f, separators=(",", ":"))
    f.write("\n")
print(f"wrote {os.path.normpath(path)}: {len(cases)} loss cases, {os.path.getsize(path)} bytes")
