"""What lr-find's bookkeeping costs per step, without the model: synthetic loss values fed through
the code the sweep runs per chunk (``lr_rules.Tracker``: extend, then the divergence scan) and,
once at the end, the whole Curve and the suggestions, at 100 / 1,000 / 10,000 steps. Reported per
step in microseconds and as a share of one digits-MLP training step (64-256-256-10, batch 64, Adam),
measured in the same run. Flat per step = the sweep's bookkeeping does not grow with N (before the
incremental curve: 0.004x at 100 steps, 0.032x at 1,000, 0.387x at 10,000; FACTS.md).

Run: `OMP_NUM_THREADS=1 .venv/bin/python benchmarks/lr_bookkeeping.py [rounds]`.
"""

from __future__ import annotations

import math
import os
import random
import statistics
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402
from torch import nn  # noqa: E402

from dlcheck import lr_rules  # noqa: E402
from dlcheck.checks.lr_find import SETTINGS, schedule, suggestions  # noqa: E402

torch.set_num_threads(1)


def losses_of(n: int) -> list[float]:
    """A sweep that falls and never diverges (the worst case: every step kept and scanned)."""
    rng = random.Random(0)
    return [2.3 - 2.0 / (1 + math.exp(-(i / n - 0.5) * 12)) + rng.gauss(0, 0.01) for i in range(n)]


def bookkeeping(n: int) -> float:
    """Seconds for the sweep's bookkeeping over ``n`` steps (per chunk, and the reading at the end)."""
    s, values, chunk = SETTINGS, losses_of(n), int(SETTINGS["chunk"])
    lrs = schedule(1e-7, 10.0, n, False)
    kw = dict(beta=float(s["beta"]), factor=float(s["diverge_factor"]), window=int(s["noise_steps"]),
              z=float(s["noise_z"]), onset_share=float(s["onset_fall"]))
    start = time.perf_counter()
    tracker = lr_rules.Tracker(lrs, floor=0.0, **kw)
    for i in range(0, n, chunk):
        tracker.extend(values[i:i + chunk])
        assert tracker.stop() is None
    curve = lr_rules.measure(lrs, tracker.losses, floor=0.0, **kw)
    suggestions(curve.lrs[curve.window:curve.usable], curve.smoothed[curve.window:curve.usable],
                lowest=curve.best_index - curve.window)
    return time.perf_counter() - start


def mlp_step(steps: int = 200) -> float:
    """Median seconds of one digits-MLP training step on random data of the digits' shape."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = torch.randn(64, 64), torch.randint(0, 10, (64,))
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times[20:])


def main(rounds: int = 5) -> None:
    step = mlp_step()
    for n in (100, 1_000, 10_000):
        bookkeeping(n)  # warm-up
        per_step = statistics.median(bookkeeping(n) / n for _ in range(rounds))
        print(f"{n:>6} steps: bookkeeping {per_step * 1e6:7.2f} us per step = {per_step / step:.4f}x a digits-MLP "
              f"step ({step * 1e3:.2f} ms), median of {rounds} rounds", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
