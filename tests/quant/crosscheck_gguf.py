"""Cross-check of `lowbit quantize` (safetensors -> GGUF) and `lowbit dequantize` against the `gguf` package
from PyPI (its numpy reference quantizers in gguf.quants and its GGUFReader).

For every scheme, a safetensors checkpoint of real-valued weights (normal, with a few large outliers, a zero
row, a constant row, rows not a multiple of 256; F32, F16 and BF16 sources) is quantized by the lowbit CLI
and the .gguf read back with GGUFReader: names, shapes, types and metadata must be as planned, and each
block byte for byte what gguf.quants.quantize makes of the same weights. gguf.quants has no quantizer for
the K-quants (q4_K, q5_K, q6_K): for those, lowbit's blocks are dequantized by gguf.quants.dequantize and
by `lowbit dequantize`, which must agree bit for bit, and the error must be that of a working quantizer.
The SQNR in lowbit's --json report is compared with one computed here in float64.

Exits 0 when everything matches; prints each mismatch and exits 1 otherwise.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
from gguf import GGUFReader, GGMLQuantizationType as T
from gguf import quants
from safetensors.numpy import load_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kquants_reference  # noqa: E402

SCHEMES = ["q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q4_K", "q5_K", "q6_K", "f16", "bf16", "f32"]
TYPES = {"q8_0": T.Q8_0, "q4_0": T.Q4_0, "q4_1": T.Q4_1, "q5_0": T.Q5_0, "q5_1": T.Q5_1, "q4_K": T.Q4_K,
         "q5_K": T.Q5_K, "q6_K": T.Q6_K, "f16": T.F16, "bf16": T.BF16, "f32": T.F32}
# llama.cpp's fallback when rows are not a whole number of blocks.
FALLBACK = {"q4_K": "q5_0", "q5_K": "q5_1", "q6_K": "q8_0", "q4_0": "f16", "q4_1": "f16", "q5_0": "f16",
            "q5_1": "f16", "q8_0": "f16"}
BLOCK = {"q8_0": 32, "q4_0": 32, "q4_1": 32, "q5_0": 32, "q5_1": 32, "q4_K": 256, "q5_K": 256, "q6_K": 256,
         "f16": 1, "bf16": 1, "f32": 1}
# A working quantizer's SQNR on normal weights (theory: about 6 dB per bit, less the outliers' share).
MIN_SQNR = {"q8_0": 38, "q4_0": 16, "q4_1": 16, "q5_0": 20, "q5_1": 20, "q4_K": 18, "q5_K": 24, "q6_K": 30,
            "f16": 60, "bf16": 40, "f32": 1e9}


def bf16_round(x):
    """float32 -> bfloat16 (nearest-even) -> float32."""
    b = x.astype(np.float32).view(np.uint32).astype(np.uint64)
    b = ((b + 0x7FFF + ((b >> 16) & 1)) >> 16).astype(np.uint32) << 16
    return b.view(np.float32)


def make_weights(rng):
    def normal(shape, scale=0.02):
        w = (rng.standard_normal(shape) * scale).astype(np.float32)
        flat = w.reshape(-1)
        idx = rng.choice(flat.size, size=max(1, flat.size // 500), replace=False)
        flat[idx] = rng.choice([-1, 1], size=idx.size) * rng.uniform(0.2, 1.0, size=idx.size)  # outliers
        return w

    t = {}
    t["model.layers.0.self_attn.q_proj.weight"] = normal((64, 512))
    t["model.layers.0.mlp.down_proj.weight"] = normal((33, 768))      # 768: 3 K-blocks; odd row count
    t["model.layers.0.mlp.up_proj.weight"] = normal((8, 96))          # 96: not a multiple of 256
    t["model.layers.0.mlp.gate_proj.weight"] = normal((5, 40), 1.0)   # 40: not a multiple of 32
    edge = normal((6, 256), 3.0)
    edge[0] = 0.0                      # all zero
    edge[1] = 0.125                    # constant
    edge[2] = 0.0
    edge[2, 17] = -2.5                 # a single nonzero
    edge[3] = np.linspace(-1, 1, 256)  # ramp, ties in plenty
    edge[4] = rng.standard_normal(256).astype(np.float32) * 1e-6  # tiny
    t["model.layers.1.edge.weight"] = edge
    t["model.norm.weight"] = (1 + 0.1 * rng.standard_normal(512)).astype(np.float32)   # 1-D: kept
    t["model.layers.0.bias"] = (0.01 * rng.standard_normal(64)).astype(np.float32)    # 1-D: kept
    t["model.embed.half.weight"] = normal((16, 256)).astype(np.float16)
    t["model.embed.bf16.weight"] = normal((4, 512))  # stored as BF16 (raw bits below)
    return t


def write_checkpoint(path, tensors):
    """A safetensors file written here (safetensors.numpy has no bfloat16), checked by safetensors' loader."""
    names = {np.dtype(np.float32): "F32", np.dtype(np.float16): "F16"}
    header, blobs, offset = {"__metadata__": {"format": "pt", "source": "crosscheck"}}, [], 0
    for name, w in tensors.items():
        if name.endswith("bf16.weight"):
            data, dtype = (bf16_round(w).view(np.uint32) >> 16).astype("<u2").tobytes(), "BF16"
        else:
            data, dtype = w.tobytes(), names[w.dtype]
        header[name] = {"dtype": dtype, "shape": list(w.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little") + text + b"".join(blobs))


def source_f32(name, w):
    if name.endswith("bf16.weight"):
        return bf16_round(w)
    return w.astype(np.float32)


def sqnr_db(x, y):
    x = x.astype(np.float64).ravel()
    e = x - y.astype(np.float64).ravel()
    noise = float(np.dot(e, e))
    if noise == 0:
        return None
    return 10 * np.log10(float(np.dot(x, x)) / noise)


def planned(scheme, name, w):
    if w.ndim < 2:
        return None  # kept
    s = scheme
    while w.shape[-1] % BLOCK[s] != 0:
        s = FALLBACK[s]
    return s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lowbit", required=True)
    args = ap.parse_args()
    rng = np.random.default_rng(7)
    weights = make_weights(rng)
    failures = []
    checked_blocks = {}
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "model.safetensors")
        write_checkpoint(src, weights)
        for scheme in SCHEMES:
            out = os.path.join(tmp, f"m-{scheme}.gguf")
            run = subprocess.run([args.lowbit, "quantize", src, "-o", out, "--scheme", scheme, "--json"],
                                 capture_output=True, text=True)
            if run.returncode != 0:
                failures.append(f"{scheme}: lowbit quantize exited {run.returncode}: {run.stderr.strip()}")
                continue
            report = {t["name"]: t for t in json.loads(run.stdout)["tensors"]}
            reader = GGUFReader(out)
            fields = reader.fields
            qv = fields.get("general.quantization_version")
            if qv is None or int(qv.parts[qv.data[0]][0]) != 2:
                failures.append(f"{scheme}: general.quantization_version missing or not 2")
            for key, value in (("safetensors.format", "pt"), ("safetensors.source", "crosscheck")):
                f = fields.get(key)
                if f is None or bytes(f.parts[f.data[0]]).decode() != value:
                    failures.append(f"{scheme}: metadata {key} missing or not {value!r}")
            by_name = {t.name: t for t in reader.tensors}
            if sorted(by_name) != sorted(weights):
                failures.append(f"{scheme}: tensor names {sorted(by_name)} != {sorted(weights)}")
                continue
            deq_path = os.path.join(tmp, f"d-{scheme}.safetensors")
            run = subprocess.run([args.lowbit, "dequantize", out, "-o", deq_path], capture_output=True, text=True)
            if run.returncode != 0:
                failures.append(f"{scheme}: lowbit dequantize exited {run.returncode}: {run.stderr.strip()}")
                continue
            lowbit_deq = load_file(deq_path)
            for name, w in weights.items():
                t = by_name[name]
                x = source_f32(name, w)
                want = planned(scheme, name, w)
                if list(t.shape) != list(reversed(w.shape)):
                    failures.append(f"{scheme}/{name}: ne {list(t.shape)} != reversed shape {list(w.shape)}")
                if want is None:
                    kept = {np.dtype(np.float32): T.F32, np.dtype(np.float16): T.F16}.get(w.dtype, T.BF16)
                    if t.tensor_type != kept:
                        failures.append(f"{scheme}/{name}: kept tensor stored as {t.tensor_type.name}")
                    elif kept == T.F32 and t.data.tobytes() != w.tobytes():
                        failures.append(f"{scheme}/{name}: kept tensor's bytes changed")
                    continue
                if t.tensor_type != TYPES[want]:
                    failures.append(f"{scheme}/{name}: type {t.tensor_type.name}, expected {TYPES[want].name}")
                    continue
                got = np.asarray(t.data).tobytes()
                qtype = TYPES[want]
                try:
                    expected = quants.quantize(x, qtype)
                    source = "gguf.quants"
                except NotImplementedError:
                    # gguf has no K-quant quantizer: kquants_reference.py, written from ggml-quants.c.
                    expected = kquants_reference.QUANTIZERS[want](x)
                    source = "kquants_reference"
                if expected is not None:
                    if got != expected.tobytes():
                        g = np.frombuffer(got, np.uint8)
                        e = np.frombuffer(expected.tobytes(), np.uint8)
                        first = int(np.argmax(g != e)) if g.size == e.size else -1
                        failures.append(f"{scheme}/{name}: {want} bytes differ from {source} (first at byte "
                                        f"{first} of {e.size})")
                    else:
                        checked_blocks[source] = checked_blocks.get(source, 0) + len(got) // \
                            quants.GGML_QUANT_SIZES[qtype][1]
                # Dequantization: gguf's numpy reference against lowbit's.
                ref = quants.dequantize(np.frombuffer(got, np.uint8).reshape(w.shape[0], -1), qtype)
                ref = ref.reshape(w.shape).astype(np.float32)
                mine = lowbit_deq[name]
                if mine.tobytes() != ref.tobytes():
                    bad = int(np.sum(mine.view(np.uint32) != ref.view(np.uint32)))
                    failures.append(f"{scheme}/{name}: lowbit dequantize differs from gguf.quants.dequantize in "
                                    f"{bad} elements")
                s = sqnr_db(x, ref)
                r = report[name]
                if (s is None) != (r["sqnr_db"] is None) or (s is not None and abs(s - r["sqnr_db"]) > 1e-6):
                    failures.append(f"{scheme}/{name}: report SQNR {r['sqnr_db']} != {s}")
                if name.endswith("q_proj.weight") and s is not None and s < MIN_SQNR[want]:
                    failures.append(f"{scheme}/{name}: SQNR {s:.2f} dB below {MIN_SQNR[want]} for {want}")
                if abs(r["max_abs_error"] - float(np.max(np.abs(x.astype(np.float64) - ref)))) > 0:
                    failures.append(f"{scheme}/{name}: report max abs error {r['max_abs_error']} differs")
            print(f"{scheme}: {len(weights)} tensors checked")
    for f in failures:
        print("MISMATCH", f)
    for source, count in sorted(checked_blocks.items()):
        print(f"{count} blocks compared byte for byte with {source}")
    print(f"{len(failures)} mismatches")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
