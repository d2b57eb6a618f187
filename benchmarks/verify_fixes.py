"""The cost of --verify-fixes: `dlcheck run SETUP --verify-fixes` against the same run without it,
on failing set-ups (each warn/fail finding with a catalogued fix gets it applied to a copy and its
check re-run).

Run: `.venv/bin/python benchmarks/verify_fixes.py [rounds] [set-up ...]`. For each set-up, the two
sides are run interleaved (without, with; `rounds` pairs) as whole processes (`dlcheck run`, one
thread) and in this process (`dlcheck.run`, no start-up), and the median of the paired ratios is
printed with the medians of each side and the fixes tried (verified or not).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SETUPS = ["tests/zoo/bug_lr_too_low.py", "tests/modern/fixes_bug_head_std.py", "tests/zoo/bug_frozen.py"]


def wall(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT,
                   env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)})
    return time.perf_counter() - start


def in_process(setup: str, verify: bool):
    import dlcheck

    start = time.perf_counter()
    report = dlcheck.run(str(ROOT / setup), device="cpu", verify_fixes=verify)
    return time.perf_counter() - start, report


def _line(name: str, without: list[float], with_: list[float]) -> str:
    ratios = [b / a for a, b in zip(without, with_)]
    return (f"  {name:<11} {statistics.median(with_):6.2f} s / {statistics.median(without):6.2f} s: "
            f"{statistics.median(ratios):.2f}x (paired ratios {min(ratios):.2f}-{max(ratios):.2f})")


def main(rounds: int, setups: list[str]) -> None:
    import torch

    torch.set_num_threads(1)
    in_process(setups[0], False)  # the first run in a process pays the imports: not counted
    for setup in setups:
        cli = [sys.executable, "-m", "dlcheck", "run", setup, "--device", "cpu", "--quiet", "--json", os.devnull]
        proc, proc_fix, mem, mem_fix = [], [], [], []
        for _ in range(rounds):
            proc.append(wall(cli))
            proc_fix.append(wall(cli + ["--verify-fixes"]))
            mem.append(in_process(setup, False)[0])
            seconds, report = in_process(setup, True)
            mem_fix.append(seconds)
        tried = [f.fix for c in report.checks for f in c.findings if f.fix is not None]
        shown = ", ".join(f"{t['code']} {t['name']} {'verified' if t['verified'] else 'not verified'}" for t in tried)
        print(f"{setup} ({report.status}; {len(tried)} fixes tried: {shown or 'none'}), "
              f"with / without --verify-fixes, median of {rounds} interleaved pairs:")
        print(_line("process", proc, proc_fix))
        print(_line("in process", mem, mem_fix))


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    args = sys.argv[1:]
    rounds = int(args.pop(0)) if args and args[0].isdigit() else 3
    main(rounds, args or SETUPS)
