"""Wall time of the whole recipe as CI runs it: `dlcheck run recipes/digits.yaml` (every check).

Run: `.venv/bin/python benchmarks/run_digits.py [rounds]`. Prints the median wall time of the
full run, with `python -c "import torch"` measured interleaved as the yardstick for this machine's
speed at that moment, and each check's own seconds from the JSON report of the last round.
Target (issue 6): well under a minute on a 2-core CPU.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def wall(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    return time.perf_counter() - start


def main(rounds: int = 3) -> None:
    report = Path(tempfile.mkdtemp()) / "report.json"
    run = [str(BIN / "dlcheck"), "run", "recipes/digits.yaml", "--quiet", "--json", str(report)]
    torch_import = [sys.executable, "-c", "import torch"]
    runs, imports = [], []
    for _ in range(rounds):
        runs.append(wall(run))
        imports.append(wall(torch_import))
    data = json.loads(report.read_text())
    print(f"dlcheck run recipes/digits.yaml: median {statistics.median(runs):.1f} s over {rounds} rounds "
          f"(import torch alone: {statistics.median(imports):.1f} s); verdict {data['status']}")
    for check in data["checks"]:
        print(f"  {check['name']:<14} {check['status']:<5} {check['seconds']:6.2f} s")


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
