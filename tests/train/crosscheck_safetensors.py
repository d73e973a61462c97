#!/usr/bin/env python3
"""Cross-check of lowbit's safetensors reader and writer against the Hugging Face `safetensors` package.

Both directions, bit for bit:
  (a) lowbit writes (tests/tools/safetensors_roundtrip.cpp `write`): the file must equal, byte for byte,
      what `safetensors.serialize` produces for the same tensors and metadata (same header order, padding
      and data), and `safe_open(framework="np")` must read back every tensor and the metadata. BF16, F8 and F8_E8M0 have no numpy dtype, so they are compared as raw bytes through
      `safetensors.deserialize`.
  (b) the package writes (`safetensors.numpy.save_file` for numpy dtypes, `serialize_file` for BF16 / F8),
      including a sharded checkpoint with model.safetensors.index.json; lowbit reads (`dump`) and must give
      the same names, dtypes, shapes, bytes and metadata.
Prints what it checked and exits 1 on any mismatch, 2 on a usage or setup error.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import safetensors
import safetensors.numpy
from safetensors import TensorSpec

# Keep in step with tensor_specs() in tests/tools/safetensors_roundtrip.cpp:
# name, safetensors dtype, TensorSpec dtype name, shape, numpy dtype (None: compared as raw bytes).
TENSORS = [
    ("embed.weight", "F32", "float32", (4, 3), np.float32),
    ("layer.0.weight", "F16", "float16", (2, 5), np.float16),
    ("layer.0.bias", "BF16", "bfloat16", (5,), None),
    ("fp8.e4m3", "F8_E4M3", "float8_e4m3fn", (3, 3), None),
    ("fp8.e5m2", "F8_E5M2", "float8_e5m2", (7,), None),
    ("scale.e8m0", "F8_E8M0", "float8_e8m0fnu", (2,), None),
    ("step", "I64", "int64", (), np.int64),
    ("mask", "BOOL", "bool", (6,), np.bool_),
    ("ids", "I32", "int32", (2, 2), np.int32),
    ("bytes", "U8", "uint8", (9,), np.uint8),
    ("signed", "I8", "int8", (3,), np.int8),
    ("wide", "F64", "float64", (2,), np.float64),
    ("half_ints", "I16", "int16", (3,), np.int16),
    ("uhalf", "U16", "uint16", (2,), np.uint16),
    ("u32", "U32", "uint32", (1,), np.uint32),
    ("u64", "U64", "uint64", (1,), np.uint64),
    ("empty", "F32", "float32", (0, 4), np.float32),
]
ITEM_BYTES = {"F32": 4, "F16": 2, "BF16": 2, "F8_E4M3": 1, "F8_E5M2": 1, "F8_E8M0": 1, "I64": 8, "BOOL": 1,
              "I32": 4, "U8": 1, "I8": 1, "F64": 8, "I16": 2, "U16": 2, "U32": 4, "U64": 8}

failures = []


def check(condition, what):
    print(("ok      " if condition else "MISMATCH") + "  " + what, flush=True)
    if not condition:
        failures.append(what)


def tensor_bytes(k, dtype, shape):
    size = int(np.prod(shape, dtype=np.int64)) * ITEM_BYTES[dtype]
    b = (np.arange(size, dtype=np.int64) * 37 + k * 11) % 256
    if dtype == "BOOL":
        b %= 2
    return b.astype(np.uint8).tobytes()


def run(driver, *args):
    result = subprocess.run([driver, *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{driver} {' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}")


def specs(buffers):
    """TensorSpecs over numpy buffers kept alive in `buffers` (the package reads raw pointers)."""
    out = {}
    for k, (name, dtype, spec_dtype, shape, _) in enumerate(TENSORS):
        arr = np.frombuffer(tensor_bytes(k, dtype, shape), dtype=np.uint8).copy()
        buffers.append(arr)
        out[name] = TensorSpec(dtype=spec_dtype, shape=shape, data_ptr=arr.ctypes.data, data_len=arr.nbytes)
    return out


def lowbit_writes(driver, tmp):
    path = os.path.join(tmp, "lowbit.safetensors")
    metadata = {"format": "np"}  # one key: the package's metadata order is a hash map's
    run(driver, "write", path, "format=np")
    with open(path, "rb") as f:
        ours = f.read()
    buffers = []
    reference = bytes(safetensors.serialize(specs(buffers), metadata))
    check(ours == reference, f"lowbit's file equals safetensors.serialize byte for byte ({len(ours)} bytes)")

    # load_file would fail on the BF16 / F8 tensors (numpy has no such dtypes): read tensor by tensor.
    raw = dict(safetensors.deserialize(ours))
    with safetensors.safe_open(path, framework="np") as f:
        loaded = {name: f.get_tensor(name) for name, _, _, _, np_dtype in TENSORS if np_dtype is not None}
    for k, (name, dtype, _, shape, np_dtype) in enumerate(TENSORS):
        expected = tensor_bytes(k, dtype, shape)
        if np_dtype is not None:
            arr = loaded[name]
            check(arr.dtype == np_dtype and arr.shape == shape and arr.tobytes() == expected,
                  f"safe_open(framework='np') reads {name} ({dtype} {list(shape)})")
        view = raw[name]
        check(view["dtype"] == dtype and tuple(view["shape"]) == shape and bytes(view["data"]) == expected,
              f"deserialize reads {name} ({dtype}) as raw bytes")
    with safetensors.safe_open(path, framework="np") as f:
        check(f.metadata() == metadata, "safe_open reads lowbit's metadata")

    # Metadata with several keys and non-ASCII text: compared through the package's reader.
    path2 = os.path.join(tmp, "lowbit-meta.safetensors")
    many = {"format": "np", "lowbit": "cross-check \u2713", "quote": 'a "b" \\ c'}
    run(driver, "write", path2, *[f"{k}={v}" for k, v in many.items()])
    with safetensors.safe_open(path2, framework="np") as f:
        check(f.metadata() == many, "safe_open reads several metadata keys with escapes and non-ASCII")


def package_writes(driver, tmp):
    # numpy tensors through the public numpy API.
    arrays = {}
    for k, (name, dtype, _, shape, np_dtype) in enumerate(TENSORS):
        if np_dtype is not None:
            arrays[name] = np.frombuffer(tensor_bytes(k, dtype, shape), dtype=np_dtype).reshape(shape)
    path = os.path.join(tmp, "package.safetensors")
    metadata = {"format": "np", "note": "written by safetensors " + safetensors.__version__, "u": "\u00e9\u4e2d"}
    safetensors.numpy.save_file(arrays, path, metadata=metadata)
    compare_dump(driver, path, tmp, {n: a.tobytes() for n, a in arrays.items()}, metadata, "save_file")

    # Every dtype, BF16 and F8 included, through the raw serializer.
    buffers = []
    path = os.path.join(tmp, "package-raw.safetensors")
    safetensors.serialize_file(specs(buffers), path, {"k": "v"})
    expected = {name: tensor_bytes(k, dtype, shape) for k, (name, dtype, _, shape, _) in enumerate(TENSORS)}
    compare_dump(driver, path, tmp, expected, {"k": "v"}, "serialize_file")

    # A sharded checkpoint as transformers lays it out.
    shard_dir = os.path.join(tmp, "sharded")
    os.makedirs(shard_dir)
    names = list(arrays)
    shards = {"model-00001-of-00002.safetensors": names[::2], "model-00002-of-00002.safetensors": names[1::2]}
    weight_map = {}
    for shard, members in shards.items():
        safetensors.numpy.save_file({n: arrays[n] for n in members}, os.path.join(shard_dir, shard))
        weight_map.update({n: shard for n in members})
    total = sum(a.nbytes for a in arrays.values())
    with open(os.path.join(shard_dir, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
    compare_dump(driver, shard_dir, tmp, {n: a.tobytes() for n, a in arrays.items()}, {"total_size": str(total)},
                 "a sharded checkpoint")


def compare_dump(driver, path, tmp, expected, metadata, how):
    out = os.path.join(tmp, "dump.json")
    run(driver, "dump", path, out)
    with open(out) as f:
        got = json.load(f)
    check(got["metadata"] == metadata, f"lowbit reads the metadata of {how}")
    check(set(got["tensors"]) == set(expected), f"lowbit reads the tensor names of {how}")
    by_name = {t[0]: t for t in TENSORS}
    for name, data in expected.items():
        t = got["tensors"].get(name)
        _, dtype, _, shape, _ = by_name[name]
        check(t is not None and t["dtype"] == dtype and tuple(t["shape"]) == shape and bytes.fromhex(t["data"]) == data,
              f"lowbit reads {name} ({dtype}) of {how}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--driver", required=True, help="path to the lowbit_safetensors driver")
    args = parser.parse_args()
    if not os.path.exists(args.driver):
        print(f"error: driver {args.driver} not found", file=sys.stderr)
        return 2
    print(f"safetensors {safetensors.__version__}, numpy {np.__version__}")
    with tempfile.TemporaryDirectory() as tmp:
        lowbit_writes(args.driver, tmp)
        package_writes(args.driver, tmp)
    if failures:
        print(f"{len(failures)} mismatches", file=sys.stderr)
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
