"""Multi-hot targets under a softmax loss (DLC714): float targets of cross-entropy (torch takes
them as class probabilities) whose rows sum above 1, several labels on at once. Healthy soft
labels (label smoothing, mixup / cutmix, a teacher's probabilities) sum to 1 per row and are quiet.
The reader sums each target row over the class axis (axis 1, per position for dense targets)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from dlcheck.rules import finding

if TYPE_CHECKING:
    from dlcheck.checks.data_check.measure import Measured


@dataclass
class RowSums:
    """Soft-target rows (one per sample, or per position) and those summing above 1."""

    rows: int = 0
    above: int = 0  # rows summing above 1 + soft_sum_tolerance
    top: float = 0.0  # the largest finite row sum
    binary: bool = True  # every value 0 or 1 (multi-hot)
    first: tuple | None = None  # (batch, row, its sum)


def add(m: Measured, targets: torch.Tensor, index: int, tolerance: float) -> None:
    """Count one batch's rows of soft targets (targets (B, C, ...), classes on axis 1)."""
    if m.target_kind != "soft" or targets.dim() < 2 or not targets.dtype.is_floating_point:
        return
    if m.row_sums is None:
        m.row_sums = RowSums()
    r = m.row_sums
    t = targets.detach()
    sums = t.sum(1).reshape(-1)
    sums = sums[torch.isfinite(sums)]
    r.rows += int(sums.numel())
    if not sums.numel():
        return
    above = sums > 1 + tolerance
    r.above += int(above.sum())
    r.top = max(r.top, float(sums.max()))
    r.binary = r.binary and bool(((t == 0) | (t == 1)).all())
    if r.first is None and bool(above.any()):
        i = int(above.nonzero()[0])
        r.first = (index, i, float(sums[i]))


def reduce_ranks(m: Measured, first_batch) -> None:
    """Under torchrun (on every rank): rows summed, the largest sum and the first row above 1 over
    ranks (``first_batch``: a rank's batch index made the loader's)."""
    from dlcheck import distributed

    r = m.row_sums or RowSums()
    inf = float("inf")
    have, rows, above, top, binary = distributed.reduce_floats(
        [float(m.row_sums is not None), r.rows, r.above, r.top, float(r.binary)], ["max", "sum", "sum", "max", "min"])
    mine = [inf, 0.0, 0.0] if r.first is None else [float(first_batch(r.first[0])), float(r.first[1]), r.first[2]]
    first = min(distributed.gather_floats(mine), key=lambda row: row[0])
    if have:
        m.row_sums = RowSums(rows=int(rows), above=int(above), top=top, binary=bool(binary),
                             first=None if first[0] == inf else (int(first[0]), int(first[1]), first[2]))


def multihot_softmax(m: Measured, task, s) -> object:
    """DLC714: rows of cross-entropy targets summing above 1; a note when only a few do."""
    r = m.row_sums
    if r is None or not r.rows or not r.above:
        return None
    share = r.above / r.rows
    kind = "0/1 values: multi-hot labels" if r.binary else "not class probabilities"
    b, i, total = r.first
    loss = task.loss if task is not None else "the loss"
    return finding("DLC714", f"{r.above} of {r.rows} target rows ({share:.0%}) sum above 1, up to {r.top:g} "
                             f"({kind}; first: batch {b} row {i}, sum {total:g}), under {loss}: softmax shares "
                             f"one unit of probability among the labels that are on",
                   severity=None if share >= s["multihot_share"] else "info")
