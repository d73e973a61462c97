#!/usr/bin/env python3
"""Throughput of `lowbit quantize` for each GGUF block type, against the `gguf` package's numpy quantizer.

Writes a synthetic float32 safetensors checkpoint of about --size-gb GB (2-D weights, normal with std 0.02,
fixed seed) under --workdir, then for each type times
  * `lowbit quantize CKPT -o OUT.gguf --scheme TYPE --threads N` (wall clock of the whole command:
    reading, quantizing, writing the GGUF file and renaming it), best of --repeats runs;
  * `gguf.quants.quantize(tensor, TYPE)` over the same tensors in this process (memory-mapped input,
    nothing written), once; the gguf package has no K-quant quantizer, so for q4_K/q5_K/q6_K it is
    reported as missing, and with --kquant-peer-mb the repo's own numpy K-quant reference
    (tests/quant/kquants_reference.py) is timed on a slice instead, as a rough numpy comparison.
GB/s are of input bytes (1 GB = 1e9 bytes). The load average (`uptime`) is printed before and after,
because the figures mean little on a busy machine.

Run with the venv that has numpy and gguf:
  .venv/bin/python bench/run_quantize_throughput.py --lowbit build/release/bin/lowbit
"""
import argparse
import json
import os
import resource
import statistics
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

TYPES = ["q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q4_K", "q5_K", "q6_K"]
ROWS, COLS = 4096, 4096  # one 64 MiB float32 tensor; rows are whole blocks for every type (256 | 4096)
REPO = Path(__file__).resolve().parent.parent


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lowbit", default=str(REPO / "build/release/bin/lowbit"), help="the lowbit binary")
    p.add_argument("--workdir", default="/tmp/lowbit-throughput", help="where the checkpoint and outputs go")
    p.add_argument("--size-gb", type=float, default=1.0, help="checkpoint size in GB of float32 (default 1)")
    p.add_argument("--types", default=",".join(TYPES), help="comma-separated GGUF types")
    p.add_argument("--repeats", type=int, default=3, help="lowbit runs per type; the best counts")
    p.add_argument("--threads", type=int, default=2, help="lowbit --threads")
    p.add_argument("--no-peer", action="store_true", help="skip the gguf package's quantizer")
    p.add_argument("--kquant-peer-mb", type=float, default=0.0,
                   help="time tests/quant/kquants_reference.py on this many MB for the K-quants (0: skip)")
    p.add_argument("--json", action="store_true", help="print the results as JSON instead of a table")
    p.add_argument("--render", nargs="+", metavar="JSON",
                   help="measure nothing: print the table of results saved by earlier --json runs (rows joined)")
    return p.parse_args()


def uptime():
    return subprocess.run(["uptime"], capture_output=True, text=True, check=True).stdout.strip()


def write_checkpoint(path, n_tensors):
    """A float32 safetensors file of n_tensors [ROWS, COLS] weights; written by hand so only numpy is needed."""
    nbytes = ROWS * COLS * 4
    header = {f"blk.{i}.weight": {"dtype": "F32", "shape": [ROWS, COLS], "data_offsets": [i * nbytes, (i + 1) * nbytes]}
              for i in range(n_tensors)}
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)  # the spec pads the header to 8 bytes with spaces
    rng = np.random.default_rng(1234)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for _ in range(n_tensors):
            f.write((rng.standard_normal((ROWS, COLS), dtype=np.float32) * np.float32(0.02)).tobytes())
    tmp.rename(path)


def checkpoint(workdir, size_gb):
    """Reuse the checkpoint when one of the right size is there: writing it takes longer than the benchmark."""
    n_tensors = max(1, round(size_gb * 1e9 / (ROWS * COLS * 4)))
    path = workdir / f"synthetic-f32-{n_tensors}x{ROWS}x{COLS}.safetensors"
    if not path.exists():
        print(f"writing {path} ...", file=sys.stderr)
        write_checkpoint(path, n_tensors)
    return path, n_tensors


def tensors(path, n_tensors):
    """The weights as memory-mapped arrays (the header length is the first 8 bytes)."""
    with open(path, "rb") as f:
        header_len = struct.unpack("<Q", f.read(8))[0]
    mm = np.memmap(path, dtype=np.float32, mode="r", offset=8 + header_len)
    return [mm[i * ROWS * COLS:(i + 1) * ROWS * COLS].reshape(ROWS, COLS) for i in range(n_tensors)]


def children_cpu_s():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def time_lowbit(lowbit, ckpt, out, scheme, threads, repeats):
    """Wall seconds of each run, and the CPU seconds (user + sys) of the fastest: on a shared machine the
    CPU time says what the work costs even when the wall clock waits for other jobs."""
    times, cpu = [], []
    for _ in range(repeats):
        c0 = children_cpu_s()
        t0 = time.perf_counter()
        r = subprocess.run([lowbit, "quantize", str(ckpt), "-o", str(out), "--scheme", scheme,
                            "--threads", str(threads), "--json"], capture_output=True, text=True)
        times.append(time.perf_counter() - t0)
        cpu.append(children_cpu_s() - c0)
        if r.returncode != 0:
            sys.exit(f"error: lowbit quantize --scheme {scheme} failed ({r.returncode}): {r.stderr.strip()}")
    out_bytes = out.stat().st_size
    out.unlink()
    return times, cpu[times.index(min(times))], out_bytes


def time_gguf_peer(arrays, scheme):
    """Seconds for gguf.quants.quantize over all arrays, or None where the package has no quantizer."""
    from gguf import GGMLQuantizationType
    from gguf.quants import quantize
    qtype = GGMLQuantizationType[scheme.upper()]
    t0 = time.perf_counter()
    try:
        for a in arrays:
            quantize(np.asarray(a), qtype)
    except NotImplementedError:
        return None
    return time.perf_counter() - t0


def time_kquant_reference(arrays, scheme, mb):
    """The repo's numpy K-quant reference on the first `mb` MB: not the gguf package, only a rough peer."""
    sys.path.insert(0, str(REPO / "tests/quant"))
    import kquants_reference as kq
    fn = {"q4_K": kq.quantize_q4_k, "q5_K": kq.quantize_q5_k, "q6_K": kq.quantize_q6_k}[scheme]
    rows = max(1, int(mb * 1e6 / (COLS * 4)))
    x = np.ascontiguousarray(arrays[0][:rows]).reshape(-1)
    t0 = time.perf_counter()
    fn(x)
    return x.nbytes, time.perf_counter() - t0


def measure(args):
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    if not os.access(args.lowbit, os.X_OK):
        sys.exit(f"error: no lowbit binary at {args.lowbit} (build it, or pass --lowbit)")
    ckpt, n_tensors = checkpoint(workdir, args.size_gb)
    in_bytes = n_tensors * ROWS * COLS * 4
    arrays = tensors(ckpt, n_tensors)
    for a in arrays:  # warm the page cache, so neither side pays for the first read from disk
        a.sum()
    result = {"checkpoint": str(ckpt), "input_bytes": in_bytes, "threads": args.threads,
              "uptime_before": uptime(), "rows": []}
    for scheme in args.types.split(","):
        if scheme not in TYPES:
            sys.exit(f"error: unknown type '{scheme}' (choose from {', '.join(TYPES)})")
        times, cpu_s, out_bytes = time_lowbit(args.lowbit, ckpt, workdir / f"out-{scheme}.gguf", scheme,
                                       args.threads, args.repeats)
        row = {"type": scheme, "lowbit_s": times, "lowbit_gbps": in_bytes / min(times) / 1e9,
               "lowbit_gbps_median": in_bytes / statistics.median(times) / 1e9, "out_bytes": out_bytes,
               "lowbit_cpu_s": cpu_s, "uptime": uptime()}
        if not args.no_peer:
            peer_s = time_gguf_peer(arrays, scheme)
            row["gguf_s"] = peer_s
            row["gguf_gbps"] = None if peer_s is None else in_bytes / peer_s / 1e9
        if args.kquant_peer_mb > 0 and scheme.endswith("_K"):
            nb, s = time_kquant_reference(arrays, scheme, args.kquant_peer_mb)
            row["kref_gbps"] = nb / s / 1e9
        result["rows"].append(row)
        print(f"{scheme}: lowbit {row['lowbit_gbps']:.2f} GB/s; {row['uptime']}", file=sys.stderr)
    result["uptime_after"] = uptime()
    return result


def fmt(v, spec=".2f"):
    return "—" if v is None else format(v, spec)


def markdown(result):
    lines = [f"input: {result['input_bytes'] / 1e9:.3f} GB float32 ({result['checkpoint']}), "
             f"lowbit --threads {result['threads']}",
             f"load before: `{result['uptime_before']}`", f"load after: `{result['uptime_after']}`", "",
             "| type | lowbit GB/s (best) | lowbit GB/s (median) | lowbit GB per CPU-second | gguf numpy GB/s | lowbit / gguf | output MB | load avg after the row |",
             "|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in result["rows"]:
        peer = r.get("gguf_gbps")
        ratio = None if not peer else r["lowbit_gbps"] / peer
        peer_txt = fmt(peer, ".3f") if peer is not None or "gguf_s" not in r else "none (no quantizer)"
        if "kref_gbps" in r:
            peer_txt += f"; repo numpy ref {r['kref_gbps']:.4f}"
        load = r["uptime"].split("load average:")[-1].strip()
        per_cpu = result["input_bytes"] / 1e9 / r["lowbit_cpu_s"] if r.get("lowbit_cpu_s") else None
        lines.append(f"| {r['type']} | {r['lowbit_gbps']:.2f} | {r['lowbit_gbps_median']:.2f} | {fmt(per_cpu)} | {peer_txt} | "
                     f"{fmt(ratio, '.1f')}{'' if ratio is None else '×'} | {r['out_bytes'] / 1e6:.1f} | {load} |")
    return "\n".join(lines)


def load_saved(paths):
    """Earlier --json results as one: rows joined, the load averages of the first and the last run."""
    runs = [json.loads(Path(p).read_text()) for p in paths]
    joined = dict(runs[0], rows=[r for run in runs for r in run["rows"]])
    joined["uptime_after"] = runs[-1]["uptime_after"]
    return joined


def main():
    args = parse_args()
    result = load_saved(args.render) if args.render else measure(args)
    print(json.dumps(result, indent=2) if args.json else markdown(result))


if __name__ == "__main__":
    main()
