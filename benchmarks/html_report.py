"""Cost of --html against the run itself: `dlcheck run recipes/digits.yaml` with and without
`--html`, as whole processes, interleaved (the two sides alternate in each round, which goes
first alternating too) under one torch thread; prints the medians and the median of the paired
ratios (HTML's extra time ÷ the run without it). Target (issue 24): ≤ 0.15× the run.

Run: `.venv/bin/python benchmarks/html_report.py [rounds] [--out]` (``--out``: both sides also write the
PNGs under --out, which the HTML then reuses).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def wall(cmd: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT, text=True)
    if done.returncode:
        raise SystemExit(f"{' '.join(cmd)} exited {done.returncode}: {done.stderr[-500:]}")
    return time.perf_counter() - start


def main(rounds: int, out: bool) -> None:
    folder = Path(tempfile.mkdtemp())
    base = [sys.executable, "-m", "dlcheck", "run", "recipes/digits.yaml", "--quiet", "--json", str(folder / "r.json")]
    plain = base + (["--out", str(folder / "a")] if out else [])
    with_html = base + (["--out", str(folder / "b")] if out else []) + ["--html", str(folder / "r.html")]
    runs, htmls, ratios = [], [], []
    for i in range(rounds):
        pair = {}
        for side in (("plain", "html") if i % 2 == 0 else ("html", "plain")):
            pair[side] = wall(plain if side == "plain" else with_html)
        runs.append(pair["plain"])
        htmls.append(pair["html"])
        ratios.append((pair["html"] - pair["plain"]) / pair["plain"])
    print(f"dlcheck run recipes/digits.yaml{' --out' if out else ''}: median {statistics.median(runs):.2f} s; "
          f"with --html {statistics.median(htmls):.2f} s; --html costs {statistics.median(ratios):.3f}x the run "
          f"(median of {rounds} paired ratios, range {min(ratios):.3f} to {max(ratios):.3f})")


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    args = [a for a in sys.argv[1:] if a != "--out"]
    main(int(args[0]) if args else 7, "--out" in sys.argv[1:])
