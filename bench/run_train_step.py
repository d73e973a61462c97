#!/usr/bin/env python3
"""Training-step time: lowbit against PyTorch (CPU) on the same model, batch, optimizer and threads.

Runs bench_train_step (Google Benchmark) and then times the same step in PyTorch in this process: the
Fashion-MNIST MLP (784-512-256-10, ReLU) and CNN (conv 1->32 3x3 pad 1, ReLU, maxpool 2, conv 32->64 3x3
pad 1, ReLU, maxpool 2, linear 3136->128, ReLU, dropout 0.25, linear 128->10), cross-entropy, backward and
Adam (lr 1e-3), with torch.set_num_threads(THREADS) and the same synthetic batch shape. Both report the
median of --repetitions measurements, one configuration at a time (lowbit, then PyTorch, back to back); the
ratio is PyTorch time / lowbit time (> 1: lowbit is faster).

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


def torch_step_ms(make, batch, repetitions, min_seconds=0.5):
    torch.manual_seed(1)
    model = make()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.rand(batch, 1, 28, 28) * 3 - 0.8
    y = torch.randint(0, 10, (batch,))
    loss_fn = nn.CrossEntropyLoss()

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

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
            name = b["run_name"]  # train_step/lowbit/mlp/64/real_time
            parts = name.split("/")
            result[(parts[2], int(parts[3]))] = b["real_time"]
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
    configs = sorted({(name.split("/")[2], int(name.split("/")[3])) for name in listed})
    print(f"machine: {machine()}; date {datetime.date.today()}; torch {torch.__version__}; threads {THREADS}; "
          f"load {os.getloadavg()[0]:.2f}")
    # Each configuration's two measurements run back to back, so both see the same load (the machine is
    # shared); the load average before each pair is printed with it.
    print("| model | batch | lowbit ms/step | PyTorch ms/step | PyTorch / lowbit | load |")
    print("|---|---|---|---|---|---|")
    for model, batch in configs:
        load = os.getloadavg()[0]
        ms = lowbit_step_ms(args.bench, args.repetitions, f"lowbit/{model}/{batch}/")[(model, batch)]
        t = torch_step_ms(mlp if model == "mlp" else cnn, batch, args.repetitions)
        print(f"| {model} | {batch} | {ms:.3f} | {t:.3f} | {t / ms:.2f}x | {load:.2f} |", flush=True)

if __name__ == "__main__":
    main()
