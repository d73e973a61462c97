"""The Fashion-MNIST models of lowbit's trainer (train/src/models.cpp) in PyTorch, and the timing loop, for
the step-time peers (run_train_step.py on the CPU, run_train_step_cuda.py on a GPU)."""
import statistics
import time

from torch import nn


def mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(),
                         nn.Linear(256, 10))


def cnn():
    return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(3136, 128), nn.ReLU(), nn.Dropout(0.25), nn.Linear(128, 10))


def median_step_ms(step, repetitions, min_seconds, sync=lambda: None):
    """Median over `repetitions` windows of at least `min_seconds` of the time per call of step(), in ms;
    sync() closes each window (torch.cuda.synchronize on a GPU)."""
    times = []
    for _ in range(repetitions):
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < min_seconds:
            step()
            n += 1
        sync()
        times.append((time.perf_counter() - start) / n * 1000)
    return statistics.median(times)
