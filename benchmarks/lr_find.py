"""What `dlcheck lr-find` costs: the whole check (as the Python API runs it: target set-up,
pre-flight, the sweep, restoring state, judging) against

* a bare PyTorch loop doing the same N steps on the same model, data and LR schedule
  (target: <= 1.05x), and
* torch-lr-finder's `range_test` + `reset()` on the same work (target: faster), when installed
  (`pip install --no-deps torch-lr-finder tqdm`).

All three sweep 1e-6 -> 1e-1 for N steps with early stopping switched off, so they do identical
work. One torch thread; the sides are interleaved round by round and the median of the per-round
ratios is reported (FACTS.md: this machine is noisy).

Run: `.venv/bin/python benchmarks/lr_find.py [rounds]`.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402
from torch import nn  # noqa: E402

import dlcheck  # noqa: E402

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parent.parent
START, END = 1e-6, 1e-1


def load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))
    spec.loader.exec_module(module)
    sys.path.pop(0)
    return module


def lrs(n: int) -> list[float]:
    return [START * (END / START) ** (i / (n - 1)) for i in range(n)]


def bare(setup, n: int) -> float:
    """The loop a user would write: same steps, same LRs, one .item() per step for the curve."""
    start = time.perf_counter()
    torch.manual_seed(0)
    model = setup.model()
    opt = torch.optim.Adam(model.parameters(), lr=START)
    loss_fn = nn.CrossEntropyLoss()
    losses, schedule = [], lrs(n)
    while len(losses) < n:
        for xb, yb in setup.train_loader():
            for group in opt.param_groups:
                group["lr"] = schedule[len(losses)]
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            losses.append(loss.item())
            if len(losses) == n:
                break
    return time.perf_counter() - start


def with_dlcheck(setup, n: int) -> float:
    start = time.perf_counter()
    result = dlcheck.check("lr-find", model=setup.model, train_loader=setup.train_loader(),
                           settings={"lr-find": {"start_lr": START, "end_lr": END, "steps": n,
                                                 "diverge_factor": 1e30}})
    assert result.metrics["steps"] == n, result.summary
    return time.perf_counter() - start


def with_torch_lr_finder(setup, n: int) -> float | None:
    try:
        from torch_lr_finder import LRFinder
    except ImportError:
        return None
    start = time.perf_counter()
    torch.manual_seed(0)
    model = setup.model()
    finder = LRFinder(model, torch.optim.Adam(model.parameters(), lr=START), nn.CrossEntropyLoss(), device="cpu")
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        finder.range_test(setup.train_loader(), end_lr=END, num_iter=n, diverge_th=1e30)
    finder.reset()
    return time.perf_counter() - start


def main(rounds: int = 5) -> None:
    cases = [("digits MLP (recipes/digits_setup.py)", load(ROOT / "recipes" / "digits_setup.py"), 100),
             ("ResNet-18, 3x32x32, batch 32 (recipes/resnet_setup.py)", load(ROOT / "recipes" / "resnet_setup.py"), 30)]
    for name, setup, n in cases:
        with_dlcheck(setup, n)  # warm-up: imports, first-call costs
        vs_bare, vs_tlf, times = [], [], {"bare": [], "dlcheck": [], "torch-lr-finder": []}
        for _ in range(rounds):
            b = bare(setup, n)
            d = with_dlcheck(setup, n)
            t = with_torch_lr_finder(setup, n)
            times["bare"].append(b)
            times["dlcheck"].append(d)
            vs_bare.append(d / b)
            if t is not None:
                times["torch-lr-finder"].append(t)
                vs_tlf.append(d / t)
        med = {k: statistics.median(v) for k, v in times.items() if v}
        line = (f"{name}, {n} steps, {rounds} rounds: dlcheck {med['dlcheck']:.2f} s, bare loop {med['bare']:.2f} s"
                f" -> dlcheck/bare {statistics.median(vs_bare):.3f}x")
        if vs_tlf:
            line += (f"; torch-lr-finder {med['torch-lr-finder']:.2f} s -> dlcheck/torch-lr-finder "
                     f"{statistics.median(vs_tlf):.3f}x")
        print(line, flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
