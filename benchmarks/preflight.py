"""Cost of preflight against the training steps it runs: the check's own ``seconds`` (from the
report) divided by (the steps it runs x the median of a bare training step of the same model on an
in-memory batch), on the digits MLP of the zoo, the digits CNN and the row transformer of the tests.
The bare step and the check are interleaved round by round; medians of the per-round ratios.

Steps preflight runs with its defaults: the loader part 7 timed steps on in-memory batches and 13
fed by the loader; the precision part 2 forward+backward looks, 3 float32 steps and 3 steps per
autocast dtype (2 on the CPU): 31 in all. A ratio near 1 means preflight costs little more than the
steps themselves; above that is its hooks, the loader's reads and the autocast set-up.

Run: `OMP_NUM_THREADS=1 PYTHONPATH=. .venv/bin/python benchmarks/preflight.py [rounds]`. Not asserted.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import torch

import dlcheck
from dlcheck.target import load_target

ROOT = Path(__file__).resolve().parent.parent
SETUPS = [ROOT / "tests" / "zoo" / "ok_digits_mlp.py", ROOT / "tests" / "modern" / "preflight_digits_cnn.py",
          ROOT / "tests" / "modern" / "preflight_transformer.py"]
STEPS = 7 + 13 + 2 + 3 * 3


def bare_step(path: Path, repeats: int = 20) -> float:
    """Median seconds of one Adam step (forward, cross-entropy, backward, step) on an in-memory batch."""
    target = load_target(str(path))
    model = target.model() if callable(target.model) else target.model
    loader = target.train_loader() if callable(target.train_loader) else target.train_loader
    x, y = next(iter(loader))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    times = []
    for _ in range(repeats + 1):
        t0 = time.perf_counter()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times[1:])


def main(rounds: int = 3) -> None:
    torch.set_num_threads(1)
    print(f"{'set-up':<28} {'preflight s':>11} {'step ms':>8} {'= steps':>8} {'ratio':>6}")
    for path in SETUPS:
        ratios, seconds, steps = [], [], []
        for _ in range(rounds):
            step = bare_step(path)
            s = dlcheck.check("preflight", str(path), device="cpu").seconds
            ratios.append(s / (STEPS * step))
            seconds.append(s)
            steps.append(step)
        s, step = statistics.median(seconds), statistics.median(steps)
        print(f"{path.stem:<28} {s:>11.2f} {step * 1000:>8.2f} {s / step:>8.0f} {statistics.median(ratios):>6.1f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
