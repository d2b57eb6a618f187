"""Peak memory of the two long training checks against their step count: `overfit-small` with a
target it cannot reach (every one of `--max-steps` steps runs) and `lr-find` with a sweep that
never diverges and no probe (every one of `--steps` steps runs), at 100 / 1,000 / 10,000 steps.

Each run is its own process (the real CLI, `dlcheck.cli.main`, in a child), which reports its
own peak RSS (`resource.getrusage(RUSAGE_SELF).ru_maxrss`). The model and data are tiny and
synthetic (nothing downloaded), so what grows with the steps is dlcheck's own bookkeeping: the
target is growth under 5 % from 100 to 10,000 steps.

Run: `.venv/bin/python benchmarks/memory.py [steps ...]` (default 100 1000 10000).
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

TARGET = '''
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

g = torch.Generator().manual_seed(0)
X = torch.randn(320, 64, generator=g)
Y = torch.randint(0, 10, (320,), generator=g)
model = lambda: nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
train_loader = lambda: DataLoader(TensorDataset(X, Y), batch_size=32, shuffle=True)
'''

RECIPE = '''
target: target.py
device: cpu
overfit-small:
  target_accuracy: 2.0     # unreachable: every step runs
lr-find:
  start_lr: 1.0e-6
  end_lr: 1.0e-3           # too small to diverge ...
  diverge_factor: 1.0e12   # ... and divergence switched off: every step runs
  auto_probe: false
'''

CASES = {"overfit-small": "--max-steps", "lr-find": "--steps"}


def child(args: list[str]) -> None:
    """Run the CLI in this process, then print this process's peak RSS in KiB."""
    from dlcheck.cli import app

    try:
        app(args, standalone_mode=False)
    except SystemExit:
        pass
    print(f"MAXRSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}", flush=True)


def measure(folder: Path, check: str, steps: int) -> tuple[float, float, int]:
    """(peak RSS in MiB, seconds, exit code) of one run of ``check`` for ``steps`` steps."""
    args = [check, "--config", str(folder / "recipe.yaml"), CASES[check], str(steps), "--quiet"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=1800)
    seconds = time.perf_counter() - start
    lines = [line for line in proc.stdout.splitlines() if line.startswith("MAXRSS ")]
    if not lines:
        raise SystemExit(f"{check} {steps}: no measurement\n{proc.stdout}\n{proc.stderr}")
    kib = int(lines[-1].split()[1])
    return kib / 1024, seconds, proc.returncode


def main(counts: list[int]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "target.py").write_text(TARGET)
        (folder / "recipe.yaml").write_text(RECIPE)
        print(f"{'check':<14} {'steps':>7} {'peak RSS MiB':>13} {'seconds':>8} {'exit':>5}")
        for check in CASES:
            peaks = []
            for steps in counts:
                peak, seconds, code = measure(folder, check, steps)
                peaks.append(peak)
                print(f"{check:<14} {steps:>7} {peak:>13.1f} {seconds:>8.1f} {code:>5}", flush=True)
            growth = (peaks[-1] - peaks[0]) / peaks[0]
            print(f"{check:<14} growth {counts[0]} -> {counts[-1]} steps: {growth:+.1%} "
                  f"({'under' if growth < 0.05 else 'OVER'} the 5 % target)", flush=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2:])
    else:
        main([int(a) for a in sys.argv[1:]] or [100, 1000, 10000])
