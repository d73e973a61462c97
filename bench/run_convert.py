#!/usr/bin/env python3
"""Bulk conversion: lowbit against memcpy and ml_dtypes, measured back to back, as one table.

Runs bench_convert (Google Benchmark: lowbit, memcpy and the access pattern's memory bound, 1 and 2
threads) and then times ml_dtypes / numpy `astype` on arrays of the same sizes and values, in this
process. Every figure is bytes read + bytes written per second (1e9 bytes), best of --repetitions runs
(the same rule for all, so background load on a shared machine favours none of them).

ml_dtypes is timed two ways: `x.astype(t)` (what people write; allocates the output each call, so its
page faults are included) and `np.copyto(out, x, casting="unsafe")` into a preallocated array. The
lowbit/ml_dtypes ratio is taken against the faster of the two. numpy's own float16 stands in for fp16.

Usage: .venv/bin/python bench/run_convert.py [--bench build/release/bench/bench_convert] [--repetitions 5]
"""
import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time

import ml_dtypes
import numpy as np

COUNT = 64 << 20  # elements: 256 MiB of fp32, as in bench_convert.cpp
NARROW = {
    "bfloat16": ml_dtypes.bfloat16,
    "float16": np.float16,
    "float8_e4m3fn": ml_dtypes.float8_e4m3fn,
    "float8_e5m2": ml_dtypes.float8_e5m2,
}


def machine():
    model, cores = platform.processor(), os.cpu_count()
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
        model = fields.get("Model name", model).strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return f"{model}, {cores} logical CPUs"


def run_bench(path, repetitions):
    cmd = [path, "--benchmark_format=json", f"--benchmark_repetitions={repetitions}",
           "--benchmark_enable_random_interleaving=true"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    best, target = {}, ""
    for b in json.loads(out)["benchmarks"]:
        if b.get("run_type") != "iteration":
            continue
        name = b["run_name"]  # e.g. lowbit/float32->bfloat16/real_time/threads:2
        best[name] = max(best.get(name, 0.0), b["GB/s"])
        target = b.get("label") or target
    return best, target, " ".join(cmd)


def best_time(fn, repetitions):
    fn()  # warm up (and fault in the preallocated output)
    times = []
    for _ in range(repetitions):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def time_ml_dtypes(repetitions):
    x = np.random.default_rng(2024).standard_normal(COUNT, dtype=np.float32)
    results = {}
    for name, dtype in NARROW.items():
        narrow = x.astype(dtype)
        for src, dst_dtype, label in ((x, dtype, f"float32->{name}"), (narrow, np.float32, f"{name}->float32")):
            out = np.empty(COUNT, dtype=dst_dtype)
            moved = src.nbytes + out.nbytes
            t_astype = best_time(lambda: src.astype(dst_dtype), repetitions)
            t_copyto = best_time(lambda: np.copyto(out, src, casting="unsafe"), repetitions)
            results[label] = (moved / t_astype / 1e9, moved / t_copyto / 1e9)
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bench", default="build/release/bench/bench_convert")
    parser.add_argument("--repetitions", type=int, default=5)
    args = parser.parse_args()

    started = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    lowbit, target, bench_cmd = run_bench(args.bench, args.repetitions)
    ml = time_ml_dtypes(args.repetitions)

    print(f"machine: {machine()}; SIMD target: {target}; started {started}")
    print(f"bench:   {bench_cmd}")
    print(f"python:  numpy {np.__version__}, ml_dtypes {ml_dtypes.__version__}, best of {args.repetitions}")
    print("GB/s = (bytes read + bytes written) / s; memcpy copies the same total bytes (half read, half written);")
    print("bound = the same loads and stores with no arithmetic (truncate / zero-extend 32-bit words)")
    print()
    header = ("| pair | threads | lowbit GB/s | memcpy GB/s | lowbit/memcpy | bound GB/s | lowbit/bound "
              "| ml_dtypes astype GB/s | ml_dtypes preallocated GB/s | lowbit/ml_dtypes |")
    print(header)
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in NARROW:
        for pair in (f"float32->{name}", f"{name}->float32"):
            for threads in (1, 2):
                lb = lowbit[f"lowbit/{pair}/real_time/threads:{threads}"]
                mc = lowbit[f"memcpy/float32<->{name}/real_time/threads:{threads}"]
                bound = lowbit.get(f"bound/{pair}/real_time/threads:{threads}")
                bound_cols = f"{bound:.2f} | {lb / bound:.2f}" if bound else "- | -"
                if threads == 1:
                    astype, prealloc = ml[pair]
                    ml_cols = f"{astype:.2f} | {prealloc:.2f} | {lb / max(astype, prealloc):.2f}"
                else:
                    ml_cols = "- | - | -"  # ml_dtypes is single-threaded
                print(f"| {pair} | {threads} | {lb:.2f} | {mc:.2f} | {lb / mc:.2f} | {bound_cols} | {ml_cols} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
