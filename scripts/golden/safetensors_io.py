"""Minimal safetensors reader/writer in plain Python (struct + json), for torch tensors.

Debian has no python3-safetensors package, so the golden scripts use this instead. It follows the
reference implementation (huggingface/safetensors, safetensors/src/tensor.rs): an 8-byte
little-endian header length, a compact JSON header ("__metadata__" first when given, then the
tensors sorted by dtype, larger first in the reference's enum order, then by name), padded with
spaces to a multiple of 8 bytes, then the raw little-endian tensor bytes, contiguous.
"""

import json
import struct

import torch

# The reference's Dtype enum order (derive(Ord)); serialization sorts by it, descending.
DTYPE_ORDER = ["BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16", "BF16", "I32", "U32",
               "F32", "F64", "I64", "U64"]
TORCH_TO_ST = {
    torch.bool: "BOOL", torch.uint8: "U8", torch.int8: "I8", torch.int16: "I16",
    torch.float16: "F16", torch.bfloat16: "BF16", torch.int32: "I32", torch.float32: "F32",
    torch.float64: "F64", torch.int64: "I64",
}
ST_TO_TORCH = {v: k for k, v in TORCH_TO_ST.items()}


def _raw_bytes(t: torch.Tensor) -> bytes:
    t = t.detach().contiguous().cpu()
    if t.dtype == torch.bfloat16:  # numpy has no bfloat16: reinterpret the bits
        t = t.view(torch.int16)
    return t.numpy().tobytes()  # little-endian host (x86, arm)


def serialize(tensors: dict, metadata: dict | None = None) -> bytes:
    items = sorted(tensors.items(),
                   key=lambda kv: (-DTYPE_ORDER.index(TORCH_TO_ST[kv[1].dtype]), kv[0].encode()))
    header = {}
    if metadata is not None:
        header["__metadata__"] = {k: metadata[k] for k in sorted(metadata)}
    chunks, offset = [], 0
    for name, t in items:
        raw = _raw_bytes(t)
        header[name] = {"dtype": TORCH_TO_ST[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        chunks.append(raw)
    js = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    js += b" " * ((8 - len(js) % 8) % 8)
    return struct.pack("<Q", len(js)) + js + b"".join(chunks)


def save_file(tensors: dict, path, metadata: dict | None = None) -> None:
    with open(path, "wb") as f:
        f.write(serialize(tensors, metadata))


def load_bytes(buf: bytes):
    (n,) = struct.unpack("<Q", buf[:8])
    header = json.loads(buf[8:8 + n].decode())
    metadata = header.pop("__metadata__", {})
    data = buf[8 + n:]
    out = {}
    end_max = 0
    for name, info in header.items():
        b, e = info["data_offsets"]
        end_max = max(end_max, e)
        dtype = ST_TO_TORCH[info["dtype"]]
        if e == b:
            out[name] = torch.empty(info["shape"], dtype=dtype)
            continue
        chunk = bytearray(data[b:e])
        if dtype == torch.bfloat16:
            t = torch.frombuffer(chunk, dtype=torch.int16).view(torch.bfloat16)
        else:
            t = torch.frombuffer(chunk, dtype=dtype)
        out[name] = t.reshape(info["shape"]).clone()
    assert end_max == len(data), "data section not fully covered"
    return out, metadata


def load_file(path):
    with open(path, "rb") as f:
        return load_bytes(f.read())
