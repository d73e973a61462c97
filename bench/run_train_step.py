#!/usr/bin/env python3
"""Training-step time: lowbit against PyTorch (CPU) on the same model, batch, optimizer, precision and threads.

Runs bench_train_step (Google Benchmark) and then times the same step in PyTorch in this process: the
Fashion-MNIST MLP (784-512-256-10, ReLU) and CNN (conv 1->32 3x3 pad 1, ReLU, maxpool 2, conv 32->64 3x3
pad 1, ReLU, maxpool 2, linear 3136->128, ReLU, dropout 0.25, linear 128->10), cross-entropy, backward and
Adam (lr 1e-3) over fp32 parameters, with torch.set_num_threads(THREADS) and the same synthetic batch shape.
AMP rows: torch.autocast(device_type="cpu", dtype=bf16|fp16) and, for fp16, torch.amp.GradScaler("cpu")
(PyTorch's AMP recipe; lowbit: fp32 masters, bf16/fp16 working copies, dynamic loss scaling for fp16).
Both report the median of --repetitions measurements, one configuration at a time (lowbit, then PyTorch,
back to back); the ratio is PyTorch time / lowbit time (> 1: lowbit is faster).

PyTorch is not in the test venv (it pulls gigabytes): install it in a separate one, e.g.
  python3 -m venv .venv-torch && .venv-torch/bin/pip install torch numpy
Usage: .venv-torch/bin/python bench/run_train_step.py [--bench build/release/bench/bench_train_step]
"""
import argparse
import datetime
import json
import os
import platform
import subprocess

import torch
from torch import nn

from torch_models import cnn, median_step_ms, mlp

THREADS = 2
DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": None}


def torch_step_ms(make, batch, amp, repetitions, min_seconds=0.5):
    torch.manual_seed(1)
    model = make()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.rand(batch, 1, 28, 28) * 3 - 0.8
    y = torch.randint(0, 10, (batch,))
    loss_fn = nn.CrossEntropyLoss()
    dtype = DTYPES[amp]
    scaler = torch.amp.GradScaler("cpu", enabled=(amp == "fp16"))

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device_type="cpu", dtype=dtype or torch.float32, enabled=dtype is not None):
            loss = loss_fn(model(x), y)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()

    for _ in range(5):
        step()
    return median_step_ms(step, repetitions, min_seconds)


def lowbit_step_ms(bench, repetitions, name_filter="."):
    out = subprocess.run([bench, "--benchmark_format=json", f"--benchmark_repetitions={repetitions}",
                          "--benchmark_report_aggregates_only=true", f"--benchmark_filter={name_filter}"],
                         capture_output=True, text=True, check=True).stdout
    result = {}
    for b in json.loads(out)["benchmarks"]:
        if b.get("aggregate_name") == "median":
            parts = b["run_name"].split("/")  # train_step/lowbit/mlp/bf16/64/real_time
            result[(parts[2], parts[3], int(parts[4]))] = b["real_time"]
    return result


def machine():
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
        return f"{fields['Model name'].strip()}, {os.cpu_count()} logical CPUs"
    except (OSError, subprocess.CalledProcessError, KeyError):
        return platform.processor()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench", default="build/release/bench/bench_train_step")
    parser.add_argument("--repetitions", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(THREADS)
    listed = subprocess.run([args.bench, "--benchmark_list_tests"], capture_output=True, text=True,
                            check=True).stdout.split()
    configs = sorted({(name.split("/")[2], name.split("/")[3], int(name.split("/")[4])) for name in listed})
    print(f"machine: {machine()}; date {datetime.date.today()}; torch {torch.__version__}; threads {THREADS}; "
          f"load {os.getloadavg()[0]:.2f}")
    # Each configuration's two measurements run back to back, so both see the same load (the machine is
    # shared); the load average before each pair is printed with it.
    print("| model | amp | batch | lowbit ms/step | PyTorch ms/step | PyTorch / lowbit | load |")
    print("|---|---|---|---|---|---|---|")
    for model, amp, batch in configs:
        load = os.getloadavg()[0]
        key = (model, amp, batch)
        ms = lowbit_step_ms(args.bench, args.repetitions, f"lowbit/{model}/{amp}/{batch}/")[key]
        t = torch_step_ms(mlp if model == "mlp" else cnn, batch, amp, args.repetitions)
        print(f"| {model} | {amp} | {batch} | {ms:.3f} | {t:.3f} | {t / ms:.2f}x | {load:.2f} |", flush=True)

if __name__ == "__main__":
    main()
