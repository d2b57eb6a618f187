"""Run `dlcheck run` (the CLI) on every task set-up and print each check's status and findings.
Run: OMP_NUM_THREADS=1 .venv/bin/python tests/tasks/_status.py OUTDIR [names...]"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
EXTRA = {"resnet_setup": ROOT / "recipes" / "resnet_setup.py"}


def main(out: Path, names: list[str]):
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, OMP_NUM_THREADS="1", COLUMNS="200")
    for name in names:
        path = EXTRA.get(name, HERE / f"{name}.py")
        seeds = (0, 1, 2) if name.startswith("ok_") or name in EXTRA else (0,)
        for seed in seeds:
            report = out / f"{name}_s{seed}.json"
            t0 = time.perf_counter()
            p = subprocess.run([str(ROOT / ".venv/bin/dlcheck"), "run", str(path), "--seed", str(seed),
                                "--json", str(report), "--quiet"], cwd=ROOT, env=env,
                               capture_output=True, text=True)
            wall = time.perf_counter() - t0
            print(f"## {name} seed {seed}: exit {p.returncode}, {wall:.1f}s", flush=True)
            if p.stderr.strip():
                print("   stderr:", p.stderr.strip()[-600:])
            if not report.exists():
                continue
            data = json.loads(report.read_text())
            print("   task:", json.dumps(data.get("task")))
            for c in data["checks"]:
                codes = [f"{f['code']}({f['severity']})" for f in c["findings"]]
                print(f"   {c['name']}: {c['status']} {' '.join(codes)} | {c['summary']}")
                for f in c["findings"]:
                    if f["severity"] in ("warn", "fail", "error"):
                        print(f"      {f['code']} {f['severity']}: {f['message']}")


if __name__ == "__main__":
    out = Path(sys.argv[1])
    names = sys.argv[2:] or sorted(p.stem for p in HERE.glob("[!_]*.py")) + ["resnet_setup"]
    main(out, names)
