"""Start-up cost of the CLI: `dlcheck --help` against `python -c pass` and `python -c "import torch"`.

Run: `make bench` (or `.venv/bin/python benchmarks/startup.py [rounds]`). The three commands run
interleaved, round after round, so the noise of a shared machine hits them alike; the script prints
median wall times and the medians of the per-round ratios. Target: help under a quarter of torch's
import time.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent
COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "dlcheck --help": [str(BIN / "dlcheck"), "--help"],
    "dlcheck init-loss --help": [str(BIN / "dlcheck"), "init-loss", "--help"],
    "python -c 'import torch'": [sys.executable, "-c", "import torch"],
}


def wall(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main(rounds: int = 15) -> None:
    for cmd in COMMANDS.values():  # warm the file cache
        wall(cmd)
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(rounds):
        for name, cmd in COMMANDS.items():
            times[name].append(wall(cmd))
    torch_times = times["python -c 'import torch'"]
    print(f"{'command':<28} {'median s':>9} {'/ import torch':>15}")
    for name, values in times.items():
        ratio = statistics.median(v / t for v, t in zip(values, torch_times))
        print(f"{name:<28} {statistics.median(values):>9.3f} {ratio:>15.3f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 15)
