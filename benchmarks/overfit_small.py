"""What `dlcheck overfit-small` costs: the whole check (as the Python API runs it: target set-up,
pre-flight, the training on the subset, restoring state, judging) against a bare PyTorch loop
doing the same N steps on the same 5 batches (kept in memory), same model, optimizer and LR
(target: <= 1.05x). The check is told never to stop early (a target accuracy above 100 %, no
extension), so both sides do identical work. One torch thread; the sides are interleaved round
by round and the median of the per-round ratios is reported (FACTS.md: this machine is noisy).

Run: `OMP_NUM_THREADS=1 .venv/bin/python benchmarks/overfit_small.py [rounds]`.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402
from torch import nn  # noqa: E402

import dlcheck  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lr_find import ROOT, load  # noqa: E402

torch.set_num_threads(1)
LR, BATCHES = 1e-3, 5


def bare(setup, n: int) -> float:
    """The loop a user would write: the loader's first batches, cycled; one .item() per step."""
    start = time.perf_counter()
    torch.manual_seed(0)
    model = setup.model()
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    loss_fn = nn.CrossEntropyLoss()
    batches = []
    for batch in setup.train_loader():
        batches.append(batch)
        if len(batches) == BATCHES:
            break
    losses = []
    for step in range(n):
        xb, yb = batches[step % len(batches)]
        loss = loss_fn(model(xb), yb)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        losses.append(loss.item())
    return time.perf_counter() - start


def with_dlcheck(setup, n: int) -> float:
    start = time.perf_counter()
    result = dlcheck.check("overfit-small", model=setup.model, train_loader=setup.train_loader(), lr=LR,
                           settings={"overfit-small": {"batches": BATCHES, "max_steps": n, "extend_factor": 1.0,
                                                       "target_accuracy": 2.0}})
    assert result.metrics["steps"] == n, (result.metrics, result.summary)
    return time.perf_counter() - start


def main(rounds: int = 5) -> None:
    cases = [("digits MLP (recipes/digits_setup.py)", load(ROOT / "recipes" / "digits_setup.py"), 500)]
    for name, setup, n in cases:
        with_dlcheck(setup, n)  # warm-up: imports, first-call costs
        ratios, times = [], {"bare": [], "dlcheck": []}
        for _ in range(rounds):
            b = bare(setup, n)
            d = with_dlcheck(setup, n)
            times["bare"].append(b)
            times["dlcheck"].append(d)
            ratios.append(d / b)
        med = {k: statistics.median(v) for k, v in times.items()}
        print(f"{name}, {n} steps, {rounds} rounds: dlcheck {med['dlcheck']:.2f} s, bare loop {med['bare']:.2f} s"
              f" -> dlcheck/bare {statistics.median(ratios):.3f}x", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
