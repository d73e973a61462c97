#!/usr/bin/env python3
"""AMP training-step time on the GPU: lowbit `--device cuda` against PyTorch AMP, same model, batch and GPU.

Runs bench_train_step_cuda (Google Benchmark) and then times the same step in PyTorch in this process: the
Fashion-MNIST MLP (784-512-256-10, ReLU) and CNN (conv 1->32 3x3 pad 1, ReLU, maxpool 2, conv 32->64 3x3
pad 1, ReLU, maxpool 2, linear 3136->128, ReLU, dropout 0.25, linear 128->10), cross-entropy, backward and
Adam (lr 1e-3) over fp32 parameters, with torch.autocast(device_type="cuda", dtype=bf16|fp16) and, for fp16,
torch.amp.GradScaler (PyTorch's AMP recipe; lowbit: fp32 masters, bf16/fp16 working copies, dynamic loss
scaling for fp16). The batch sits on the GPU before timing; each PyTorch timing window ends with
torch.cuda.synchronize(), and each lowbit step ends with the loss on the host. Both report the median of
--repetitions; the ratio is PyTorch time / lowbit time (> 1: lowbit is faster). fp32 rows (no autocast) are
shown for reference.

Usage (on the GPU machine): python3 bench/run_train_step_cuda.py --bench <dir>/bench_train_step_cuda
"""
import argparse
import datetime
import json
import subprocess

import torch
from torch import nn

from torch_models import cnn, median_step_ms, mlp


DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": None}


def torch_step_ms(make, batch, amp, repetitions, min_seconds=0.5):
    torch.manual_seed(1)
    device = "cuda"
    model = make().to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = (torch.rand(batch, 1, 28, 28) * 3 - 0.8).to(device)
    y = torch.randint(0, 10, (batch,)).to(device)
    loss_fn = nn.CrossEntropyLoss()
    dtype = DTYPES[amp]
    scaler = torch.amp.GradScaler("cuda", enabled=(amp == "fp16"))

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device_type="cuda", dtype=dtype or torch.float32, enabled=dtype is not None):
            loss = loss_fn(model(x), y)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()

    for _ in range(10):
        step()
    torch.cuda.synchronize()
    return median_step_ms(step, repetitions, min_seconds, torch.cuda.synchronize)


def lowbit_step_ms(bench, repetitions):
    out = subprocess.run([bench, "--benchmark_format=json", f"--benchmark_repetitions={repetitions}",
                          "--benchmark_report_aggregates_only=true"],
                         capture_output=True, text=True, check=True).stdout
    result = {}
    for b in json.loads(out)["benchmarks"]:
        if b.get("aggregate_name") == "median":
            parts = b["run_name"].split("/")  # train_step_cuda/lowbit/mlp/bf16/64/min_time:0.500/real_time
            result[(parts[1], parts[2], parts[3], int(parts[4]))] = b["real_time"]
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench", default="build/release/bench/bench_train_step_cuda")
    parser.add_argument("--repetitions", type=int, default=5)
    args = parser.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False  # fp32 rows: plain fp32 on both sides
    torch.backends.cudnn.allow_tf32 = False
    lowbit = lowbit_step_ms(args.bench, args.repetitions)
    print(f"GPU: {torch.cuda.get_device_name(0)}; date {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; "
          f"torch {torch.__version__}; median of {args.repetitions}")
    print("| model | batch | amp | lowbit ms/step (lowbit GEMM) | lowbit ms/step (--gemm cublas) | "
          "PyTorch ms/step | PyTorch / lowbit |")
    print("|---|---|---|---|---|---|---|")
    for model in ("mlp", "cnn"):
        for amp in ("bf16", "fp16", "fp32"):
            for batch in (64, 256):
                ours = lowbit[("lowbit", model, amp, batch)]
                cublas = lowbit.get(("cublas", model, amp, batch))
                t = torch_step_ms(mlp if model == "mlp" else cnn, batch, amp, args.repetitions)
                cublas_text = f"{cublas:.3f}" if cublas is not None else "(same)"
                print(f"| {model} | {batch} | {amp} | {ours:.3f} | {cublas_text} | {t:.3f} | {t / ours:.2f}x |",
                      flush=True)


if __name__ == "__main__":
    main()
