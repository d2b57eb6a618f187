"""lr_quality.py's score with the lottery taken out (issue 24, item 10): the loss around an LR.

lr_quality.py scores one LR: the mean loss of seeds {0,1} after 200 steps at exactly the suggested
LR, over the best such loss on a 16-LR grid. lr_quality_noise.py found that near the best LR a 1 %
change of the LR can swing that loss 2-20x (breast-cancer AdamW, digits momentum SGD, and near its
edge breast-cancer plain SGD), so the score of one LR is partly a draw, and the oracle is the
luckiest of 16 draws. Here an LR is scored by what a practitioner gets *around* it: the mean of the
same loss at the LR x 0.9, 0.95, 1, 1.05 and 1.1 (a region that reaches a divergence scores inf).
The oracle is the best such mean over the four grid LRs with the best single-LR losses.

- single: lr_quality.py's own score (one LR over the grid's best one LR), for reference.
- local: the mean around the suggestion over the best mean around a grid LR.

Run: `.venv/bin/python benchmarks/lr_quality_local.py [task name part]` (~5 minutes on one thread).

Result (200 steps, one thread, CPU, 4.5 minutes with a helper session running beside it; "LR: single / local"):

| task | local oracle LR | dlcheck seed 0: single / local | dlcheck seed 1: single / local |
|---|---|---|---|
| digits MLP, Adam | 0.0032 | 0.0032: 0.98 / 0.98 | 0.0032: 0.98 / 0.98 |
| digits MLP, SGD momentum 0.9 | 0.056 | 0.063: 0.80 / 0.77 | 0.067: 0.76 / 0.86 |
| digits CNN, Adam | 0.022 | 0.026: 0.78 / 0.84 | 0.026: 0.78 / 0.84 |
| breast-cancer MLP, plain SGD | 1 | 1: 0.81 / 1.55 | 1.3: 1.57 / 0.99 |
| held out: digits CNN, SGD momentum 0.9 | 0.15 | 0.12: 0.87 / 1.09 | 0.12: 0.87 / 1.09 |
| held out: wine MLP, plain SGD | 2.6 | 1.6: 2.45 / 2.39 | 1.5: 2.66 / 2.60 |
| held out: diabetes MLP regression, plain SGD | 0.15 | 0.14: 1.00 / 1.00 | 0.14: 1.00 / 1.00 |
| held out: breast-cancer MLP, AdamW | 0.0032 | 0.0072: 1.90 / 1.13 | 0.0072: 1.90 / 1.13 |
| held out: digits CNN, plain SGD | 1 | 1: 1.00 / 1.00 | 1: 1.00 / 1.00 |
| held out: iris MLP, plain SGD | 1 | 0.95: 1.02 / 1.01 | 1.1: 1.00 / 0.97 |

Within 1.1: 15 of 20 task-seeds by the single score, 16 by the local one. The lottery moves
breast-cancer AdamW from 1.90 to 1.13 and breast-cancer plain SGD seed 1 from 1.57 to 0.99, but
breast-cancer seed 0 from 0.81 to 1.55: around lr 1.0 its loss spikes (x0.97 scores 3.33). What no
measure moves is wine: around 1.5-1.6 its loss is 2.4-2.6x that around 2.6 on seeds {0,1}, though
on seeds {2,3} the best grid LR is 1 (lr_quality_noise.py: 4.59 across the seed pairs).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lr_quality as lq  # noqa: E402  (its tasks, training loop and lr-find call)

AROUND = (0.9, 0.95, 1.0, 1.05, 1.1)
TOP = 4


def around(task: lq.Task, lr: float) -> float:
    """The mean of lr_quality's loss (seeds {0,1}, 200 steps) at ``lr`` x AROUND; inf if any diverges."""
    values = [lq.final_loss(task, lr * f) for f in AROUND]
    return sum(values) / len(values) if all(map(math.isfinite, values)) else math.inf


def main(only: str | None = None) -> None:
    rows = []
    for task in lq.tasks():
        if only and only not in task.name:
            continue
        grid = {lr: lq.final_loss(task, lr) for lr in lq.GRID}
        best = min(grid.values())
        top = sorted(grid, key=grid.get)[:TOP]
        local = {lr: around(task, lr) for lr in top}
        oracle_lr = min(local, key=local.get)
        row = [task.name, f"{oracle_lr:.2g}"]
        for seed in lq.DLCHECK_SEEDS:
            lr = lq.suggest(task, seed)["suggested_lr"]
            row.append(f"{lr:.2g}: {lq.final_loss(task, lr) / best:.2f} / {around(task, lr) / local[oracle_lr]:.2f}")
        rows.append(row)
        print(" | ".join(row), flush=True)
    lq.table(["task", "local oracle LR"] + [f"dlcheck seed {s}: single / local" for s in lq.DLCHECK_SEEDS], rows)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else None))
