"""What dlcheck's training step costs over a bare loop, per step, in a way a loaded machine does
not swamp: many short rounds, alternating, on the SAME model, optimizer and batch.

1. ``Trainer.step(batch, i, outputs=False)`` through a real Context (pre-flight run, the task
   inferred: what lr-find's sweep and runs and overfit-small's steps call) against the bare
   ``loss_fn(model(x), y); backward; step; zero_grad``: microseconds of overhead per step and the
   ratio, on the digits MLP (recipes/digits_setup.py, a step of about 1 ms) and on a tiny model
   (a step of tens of microseconds, so that the Python overhead shows).
2. The whole checks (``dlcheck.check``) at two step counts, interleaved: the slope is the cost of
   a step inside the check's loop (its chunk bookkeeping too), the intercept the check's fixed
   cost outside its steps (set-up, pre-flight, state snapshot and restore, judging).

One torch thread; medians over rounds. Run:
`OMP_NUM_THREADS=1 .venv/bin/python benchmarks/step_overhead.py [rounds]`.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
import types
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402
from torch import nn  # noqa: E402

import dlcheck  # noqa: E402
from dlcheck.api import _settings  # noqa: E402
from dlcheck.context import Context  # noqa: E402
from dlcheck.runstate import preflight  # noqa: E402
from dlcheck.training import Trainer  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lr_find import ROOT, load  # noqa: E402

torch.set_num_threads(1)
CPU = torch.device("cpu")


def _context(model_fn, loader) -> Context:
    s = _settings(None, {"model": model_fn, "train_loader": loader}, device="cpu", seed=0, out=None,
                  settings=None, ignore=(), lr=None, amp=False, budget=None, checks=None)
    state = preflight(s.target, CPU, s)
    return Context("lr-find", s.target, CPU, 0, {}, state=state)


def _steps(fn, k: int) -> float:
    start = time.perf_counter()
    for _ in range(k):
        fn()
    return (time.perf_counter() - start) / k


def per_step(name: str, model_fn, loader, rounds: int, k: int) -> None:
    ctx = _context(model_fn, loader)
    torch.manual_seed(0)
    model = model_fn()
    model.train()
    optimizer = ctx.optimizer(model.parameters(), lr=1e-4)
    trainer = Trainer(ctx, model, optimizer)
    batch = next(iter(loader))
    x, y = batch
    loss_fn = nn.CrossEntropyLoss()

    def bare():
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return loss.detach()

    def ours():
        return trainer.step(batch, 0, outputs=False)

    _steps(ours, k), _steps(bare, k)  # warm-up (the first step's checks, allocator)
    b_times, d_times = [], []
    for r in range(rounds):
        pair = [(ours, d_times), (bare, b_times)]
        for fn, into in (pair if r % 2 else pair[::-1]):
            into.append(_steps(fn, k))
    diffs = [d - b for d, b in zip(d_times, b_times)]
    b, d = statistics.median(b_times), statistics.median(d_times)
    print(f"{name}: bare {b * 1e6:.1f} us/step, Trainer.step {d * 1e6:.1f} us/step, overhead "
          f"{statistics.median(diffs) * 1e6:+.1f} us/step -> {statistics.median(x / y for x, y in zip(d_times, b_times)):.3f}x "
          f"({rounds} rounds of {k} steps)", flush=True)


def _check(name: str, setup, n: int) -> float:
    if name == "lr-find":
        settings = {"lr-find": {"start_lr": 1e-6, "end_lr": 1e-2, "steps": n, "diverge_factor": 1e30, "auto_probe": False}}
    else:
        settings = {"overfit-small": {"batches": 5, "max_steps": n, "extend_factor": 1.0, "target_accuracy": 2.0}}
    start = time.perf_counter()
    result = dlcheck.check(name, model=setup.model, train_loader=setup.train_loader(), lr=1e-3, settings=settings)
    assert result.metrics["steps"] == n, (result.metrics, result.summary)
    return time.perf_counter() - start


def _line(times: dict, small: int, large: int) -> tuple[float, float]:
    slope = (times[large] - times[small]) / (large - small)
    return slope, times[small] - small * slope


def fixed_cost(setup, rounds: int, small: int = 20, large: int = 220, label: str = "digits MLP") -> None:
    """Each check and its bare loop (benchmarks/lr_find.py's and overfit_small.py's: the same
    loader reads, or the same 5 batches in memory) at ``small`` and ``large`` steps, interleaved."""
    import lr_find
    import overfit_small

    bares = {"lr-find": lr_find.bare, "overfit-small": overfit_small.bare}
    for name in ("lr-find", "overfit-small"):
        _check(name, setup, small), bares[name](setup, small)  # warm-up
        lines = {"check": [], "bare": []}
        for r in range(rounds):
            sides = [("check", lambda n: _check(name, setup, n)), ("bare", lambda n: bares[name](setup, n))]
            times = {"check": {}, "bare": {}}
            for n in ((small, large) if r % 2 else (large, small)):
                for side, fn in (sides if r % 2 else sides[::-1]):
                    times[side][n] = fn(n)
            for side in lines:
                lines[side].append(_line(times[side], small, large))
        slope = {k: statistics.median(s for s, _ in v) for k, v in lines.items()}
        fixed = {k: statistics.median(c for _, c in v) for k, v in lines.items()}
        extra = statistics.median(c[0] - b[0] for c, b in zip(lines["check"], lines["bare"]))
        print(f"{name} ({label}), per step in the loop: check {slope['check'] * 1e6:.0f} us, bare "
              f"{slope['bare'] * 1e6:.0f} us, overhead {extra * 1e6:+.0f} us/step; fixed cost: check "
              f"{fixed['check'] * 1e3:.1f} ms, bare {fixed['bare'] * 1e3:.1f} ms ({rounds} rounds, "
              f"{small} vs {large} steps)", flush=True)


def main(rounds: int = 40) -> None:
    digits = load(ROOT / "recipes" / "digits_setup.py")
    per_step("digits MLP (64-256-256-10, batch 64)", digits.model, digits.train_loader(), rounds, 50)
    g = torch.Generator().manual_seed(0)
    tiny_data = [(torch.randn(8, 4, generator=g), torch.randint(0, 2, (8,), generator=g))]
    per_step("tiny model (Linear 4->2, batch 8)", lambda: nn.Linear(4, 2), tiny_data, rounds, 200)
    fixed_cost(digits, max(3, rounds // 8))
    linear = types.SimpleNamespace(model=lambda: nn.Linear(64, 10), train_loader=digits.train_loader)
    fixed_cost(linear, max(3, rounds // 8), label="digits, one Linear layer: the Python overhead shows")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 40)
