"""rlif against transformers itself, where transformers is installed (the GPU machines have it).

    python3 scripts/golden/hf_transformers_parity.py [--out parity.json]

Not run in CI (this machine has no transformers); its result is recorded by hand in
docs/hf-models.md. Three checks, for each family (Qwen2ForCausalLM, Qwen3ForCausalLM,
LlamaForCausalLM with rope_scaling llama3), on small random configs:

1. transformers -> rlif: a model made by transformers and saved by save_pretrained (BF16,
   safetensors, sharded by max_shard_size) loads in rlif, whose float32 logits on random ids match
   transformers' float32 logits of the same BF16 weights (normwise relative error < 1e-4).
2. rlif -> transformers: rlif's fixture folders (test/fixtures/hf/*, hub layout) exported by
   `rlif export` (BF16, sharded) load with AutoModelForCausalLM / AutoTokenizer; logits match rlif's.
3. Chat templates: AutoTokenizer.apply_chat_template(add_generation_prompt=True,
   date_string="26 Jul 2024") on the exported folder gives exactly rlif's prompt for a problem.
"""

import argparse
import json
import pathlib
import subprocess
import sys
import tempfile

import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import safetensors_io as st  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
PROBLEM = "What is $1+1$?"
INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."


def rlif_logits(folder, ids, tmp, problem=None):
    ids_path, out = tmp / "ids.json", tmp / "logits.safetensors"
    ids_path.write_text(json.dumps(ids.tolist()))
    args = ["node", "--import", "tsx", "scripts/golden/ts_hf_logits.ts", str(folder), str(ids_path), str(out)]
    if problem is not None:
        args.append(problem)
    r = subprocess.run(args, cwd=ROOT, check=True, capture_output=True, text=True)
    logits = st.load_file(out)[0]["logits"].double()
    return logits, (json.loads(r.stdout)["prompt"] if problem is not None else None)


def rel_err(a, b):
    return ((a - b).abs().max() / b.abs().max()).item()


def small_configs():
    from transformers import LlamaConfig, Qwen2Config, Qwen3Config

    common = dict(vocab_size=300, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256)
    return {
        "qwen2": Qwen2Config(**common, tie_word_embeddings=True, rope_theta=1e6),
        "qwen3": Qwen3Config(**common, head_dim=32, tie_word_embeddings=False, rope_theta=1e6),
        "llama": LlamaConfig(**common, tie_word_embeddings=True, rope_theta=5e5,
                             rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                           "high_freq_factor": 4.0, "original_max_position_embeddings": 64}),
    }


def transformers_to_rlif(tmp):
    from transformers import AutoModelForCausalLM

    results = {}
    for family, cfg in small_configs().items():
        torch.manual_seed(0)
        model = AutoModelForCausalLM.from_config(cfg).to(torch.bfloat16)
        folder = tmp / f"hf-{family}"
        model.save_pretrained(folder, safe_serialization=True, max_shard_size="100KB")
        shards = sorted(p.name for p in folder.glob("*.safetensors"))
        ids = torch.randint(0, cfg.vocab_size, (2, 48))
        with torch.no_grad():
            ref = model.float()(ids).logits.double()
        ours, _ = rlif_logits(folder, ids, tmp)
        results[family] = {"shards": shards, "rel_err": rel_err(ours, ref), "ok": rel_err(ours, ref) < 1e-4}
    return results


def rlif_to_transformers(tmp):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    results = {}
    for family in ["qwen2", "qwen3", "llama"]:
        out = tmp / f"rlif-{family}"
        subprocess.run(["node", "bin/rlif.mjs", "export", "--model", f"test/fixtures/hf/{family}-tiny", "--out",
                        str(out), "--dtype", "bf16", "--max-shard-size", "20KB"], cwd=ROOT, check=True)
        model = AutoModelForCausalLM.from_pretrained(out, torch_dtype=torch.float32)
        ids = torch.randint(0, 265, (2, 24))
        with torch.no_grad():
            ref = model(ids).logits.double()
        ours, prompt = rlif_logits(out, ids, tmp, PROBLEM)
        tok = AutoTokenizer.from_pretrained(out)
        theirs = tok.apply_chat_template([{"role": "user", "content": f"{PROBLEM}\n{INSTRUCTION}"}],
                                         tokenize=False, add_generation_prompt=True, date_string="26 Jul 2024")
        results[family] = {"rel_err": rel_err(ours, ref), "template_equal": theirs == prompt,
                           "ok": rel_err(ours, ref) < 1e-4 and theirs == prompt}
        if theirs != prompt:
            results[family]["transformers_prompt"], results[family]["rlif_prompt"] = theirs, prompt
    return results


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    import transformers

    with tempfile.TemporaryDirectory() as t:
        tmp = pathlib.Path(t)
        report = {"transformers": transformers.__version__, "torch": torch.__version__,
                  "transformers_to_rlif": transformers_to_rlif(tmp),
                  "rlif_to_transformers": rlif_to_transformers(tmp)}
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        pathlib.Path(args.out).write_text(text + "\n")
    ok = all(r["ok"] for part in ("transformers_to_rlif", "rlif_to_transformers") for r in report[part].values())
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
