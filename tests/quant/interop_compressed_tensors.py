"""Interop test (ctest label `interop`): compressed-tensors files written by `lowbit quantize` are
decompressed by the `compressed-tensors` package (PyTorch) and must match `lowbit dequantize` bit for bit.

For each scheme, a checkpoint (several 2-D weights with outliers, a weight whose rows are not a whole number
of groups, a bias, a config.json) is quantized to OUT/model.safetensors; the quantization_config of the
config.json written beside it is validated by compressed_tensors.QuantizationConfig; every quantized
module's tensors go through the registered compressor's decompress(); the result must equal lowbit's own
dequantization exactly and be close to the original weights.

Needs the venv with torch and compressed-tensors (.venv-torch). Exits 0 when everything matches.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import torch
from compressed_tensors.compressors import BaseCompressor
from compressed_tensors.quantization import QuantizationConfig
from safetensors.torch import load_file, save_file

SCHEMES = ["int8", "int8-asym", "int8-tensor", "int4", "int4-g32-asym", "int4-g64-mse", "int4-channel",
           "int4-channel-asym", "int4-tensor", "fp8", "fp8-tensor", "fp8-mse", "nvfp4", "mxfp4"]
# Relative RMS error a working quantizer stays under on these weights (normal, sigma 0.02, with outliers
# of 0.5: coarse scales pay for them).
MAX_REL_RMS = {"int8": 0.05, "int4": 0.35, "int4-channel": 0.5, "int4-tensor": 0.6, "fp8": 0.08, "nvfp4": 0.2,
               "mxfp4": 0.3}


def make_checkpoint(folder):
    g = torch.Generator().manual_seed(3)
    t = {}
    for name, shape in [("model.layers.0.self_attn.q_proj", (64, 256)), ("model.layers.0.mlp.down_proj", (48, 512)),
                        ("model.layers.0.mlp.odd_proj", (24, 96))]:
        w = torch.randn(shape, generator=g) * 0.02
        flat = w.view(-1)
        idx = torch.randint(0, flat.numel(), (flat.numel() // 300,), generator=g)
        flat[idx] = torch.sign(torch.randn(idx.numel(), generator=g)) * 0.5  # outliers
        w[3] = 0.0  # an all-zero row
        t[name + ".weight"] = w
    t["model.layers.0.mlp.down_proj.bias"] = torch.randn(48, generator=g)
    t["model.norm.weight"] = torch.ones(256)
    os.makedirs(folder)
    save_file(t, os.path.join(folder, "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump({"model_type": "llama", "hidden_size": 256}, f)
    return t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lowbit", required=True)
    args = ap.parse_args()
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        src_dir = os.path.join(tmp, "in")
        original = make_checkpoint(src_dir)
        for scheme in SCHEMES:
            out_dir = os.path.join(tmp, scheme)
            os.makedirs(out_dir)
            out = os.path.join(out_dir, "model.safetensors")
            run = subprocess.run([args.lowbit, "quantize", os.path.join(src_dir, "model.safetensors"), "-o", out,
                                  "--scheme", scheme, "--json"], capture_output=True, text=True)
            if run.returncode != 0:
                failures.append(f"{scheme}: lowbit quantize exited {run.returncode}: {run.stderr.strip()}")
                continue
            with open(os.path.join(out_dir, "config.json")) as f:
                cfg = json.load(f)
            if cfg.get("model_type") != "llama":
                failures.append(f"{scheme}: config.json lost the input's keys")
            qcfg = QuantizationConfig.model_validate(cfg["quantization_config"])
            deq = os.path.join(tmp, f"{scheme}-deq.safetensors")
            run = subprocess.run([args.lowbit, "dequantize", out, "-o", deq], capture_output=True, text=True)
            if run.returncode != 0:
                failures.append(f"{scheme}: lowbit dequantize exited {run.returncode}: {run.stderr.strip()}")
                continue
            mine = load_file(deq)
            packed = load_file(out)
            seen = 0
            for group in qcfg.config_groups.values():
                fmt = group.format or qcfg.format
                compressor = BaseCompressor.get_value_from_registry(fmt)
                for module in group.targets:
                    prefix = module + "."
                    state = {k[len(prefix):]: v for k, v in packed.items() if k.startswith(prefix)}
                    state.pop("bias", None)
                    theirs = compressor.decompress(state, group)["weight"].to(torch.float32)
                    name = module + ".weight"
                    ours = mine[name]
                    seen += 1
                    if theirs.shape != ours.shape or not torch.equal(theirs.view(torch.int32), ours.view(torch.int32)):
                        diff = (theirs != ours).sum().item() if theirs.shape == ours.shape else "shape"
                        failures.append(f"{scheme}/{name}: compressed-tensors decompress differs from lowbit "
                                        f"dequantize ({diff} elements)")
                        continue
                    x = original[name]
                    rel = ((x - theirs).norm() / x.norm()).item()
                    kind = "-".join(scheme.split("-")[:2]) if scheme.split("-")[1:2] in (["channel"], ["tensor"]) \
                        and scheme.startswith("int4") else scheme.split("-")[0]
                    if rel > MAX_REL_RMS[kind]:
                        failures.append(f"{scheme}/{name}: relative RMS error {rel:.4f} above {MAX_REL_RMS[kind]}")
            if seen != 3:
                failures.append(f"{scheme}: {seen} quantized modules in the config, expected 3")
            for name in ("model.layers.0.mlp.down_proj.bias", "model.norm.weight"):
                if not torch.equal(mine[name], original[name]):
                    failures.append(f"{scheme}/{name}: kept tensor changed")
            print(f"{scheme}: {seen} modules decompressed by compressed-tensors, identical to lowbit's")
    for f in failures:
        print("MISMATCH", f)
    print(f"{len(failures)} mismatches")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
