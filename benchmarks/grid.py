"""How good is the coarse grid, and what does pruning save? On the digits recipe
(recipes/digits_setup.py: MLP 64-256-256-10, Adam, lr 3e-3, 1400 training samples):

* the default grid (lr 1e-3, 3e-3, 9e-3 x weight decay 1e-4, 1e-5, 0; 1 epoch; pruning on) against
  a finer grid (13 LRs from 3e-4 to 3e-2, 1.47x apart, x weight decays 1e-4, 3e-5, 1e-5, 0; no
  pruning): ratio = the coarse grid's best val loss / the finer grid's best (target <= 1.10);
* the same default grid with --no-prune: optimizer steps trained with and without pruning
  (pruning must cut them), and the best cell (pruning must not change it).

Both at 1 and at 3 epochs per trial, seeds 0 and 1. Every trial starts from the same init with the
same batch order, so the grids differ only in the cells they contain.

Run: `.venv/bin/python benchmarks/grid.py` (about 2-4 minutes on one thread). Writes the rows to
stdout and, with a path argument, as JSON.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402

import dlcheck  # noqa: E402

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parent.parent
TARGET = str(ROOT / "recipes" / "digits_setup.py")
FINE_LRS = ",".join(f"{3e-4 * (100 ** (i / 12)):.3g}" for i in range(13))
FINE_WDS = "1e-4,3e-5,1e-5,0"
SEEDS = (0, 1)
EPOCHS = (1, 3)


def grid(seed: int, epochs: int, **settings):
    start = time.perf_counter()
    result = dlcheck.check("grid", TARGET, seed=seed, settings={"grid": {"epochs": epochs, **settings}})
    assert result.status != "error", result.summary
    return result, time.perf_counter() - start


def main() -> None:
    rows = []
    for epochs in EPOCHS:
        for seed in SEEDS:
            coarse, t_coarse = grid(seed, epochs)
            full, t_full = grid(seed, epochs, prune=False)
            fine, t_fine = grid(seed, epochs, lrs=FINE_LRS, weight_decays=FINE_WDS, prune=False)
            m, f, n = coarse.metrics, full.metrics, fine.metrics
            row = {
                "epochs": epochs, "seed": seed,
                "coarse_best": (m["best_lr"], m["best_weight_decay"], m["best_val_loss"]),
                "fine_best": (n["best_lr"], n["best_weight_decay"], n["best_val_loss"]),
                "ratio": round(m["best_val_loss"] / n["best_val_loss"], 4),
                "steps_pruned": m["steps_trained"], "steps_unpruned": f["steps_trained"],
                "step_share": round(m["steps_trained"] / f["steps_trained"], 3), "pruned_trials": m["pruned"],
                "best_unchanged": (m["best_lr"], m["best_weight_decay"]) == (f["best_lr"], f["best_weight_decay"]),
                "seconds": {"coarse": round(t_coarse, 2), "unpruned": round(t_full, 2), "fine": round(t_fine, 2)},
                "findings": [x.code for x in coarse.findings],
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    worst = max(r["ratio"] for r in rows)
    print(f"worst ratio {worst:.3f} (target <= 1.10); steps with pruning "
          f"{sum(r['steps_pruned'] for r in rows) / sum(r['steps_unpruned'] for r in rows):.2f}x those without; "
          f"best cell unchanged in {sum(r['best_unchanged'] for r in rows)} of {len(rows)} runs")
    if len(sys.argv) > 1:
        Path(sys.argv[1]).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
