"""What data-check measured, as plain numbers (:class:`Measured`); the rules (rules.py, verdict.py)
read only this, the task and the settings. The reader (reader.py) fills it batch by batch;
:func:`complete` adds what needs every batch (label entropy per batch against shuffled batches),
and the pairing control (pairing.py) its runs."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from dlcheck import scale
from dlcheck.checks.data_check.copies import Copies
from dlcheck.checks.data_check.dominance import Edges
from dlcheck.checks.data_check.multihot import RowSums
from dlcheck.checks.data_check.leakage import Leakage
from dlcheck.checks.data_check.pairing import Pairing
from dlcheck.checks.data_check.targets import TargetPart
from dlcheck.context import Context


UNUSED = ("the loss does not use them: with the labels permuted across the batch the initial model's "
          "loss and gradients were identical")


@dataclass
class InputSummary:
    """One input stream (a tensor, or one entry of a tuple/dict of inputs) over the batches read."""

    label: str  # "inputs" or "inputs['x']"
    kind: str  # image | table | ids | other
    dtype: str
    shape: tuple  # of one sample
    stats: scale.ChannelStats | None = None  # None for ids
    bad_batches: int = 0  # batches holding NaN/Inf
    first_bad: tuple | None = None  # (batch, [sample indices], "NaN" | "Inf")
    only: bool = True  # the only input stream (named "inputs" in findings)
    samples: int = 0  # the samples read (every stream)
    given: bool | None = None  # the model's forward was given this stream as it is (False: the target's
    #                            own step transforms it first; None: not known, or dlcheck feeds it itself)
    levels: int | None = None  # distinct finite values in its first batch (tables, 3-axis floats; up to 257)

    @property
    def shown(self) -> str:
        return "inputs" if self.only else self.label


@dataclass
class LabelSummary:
    """Hard class labels (classification), counted per batch."""

    classes: int | None  # the number of classes known (num_classes, the task, the output width)
    source: str
    ignored: int = 0  # labels equal to the loss's ignore_index
    valid: int = 0
    low: int | None = None
    high: int | None = None
    out_of_range: int = 0
    first_out: tuple | None = None  # (batch, index, label)
    batch_counts: list[list[int]] = field(default_factory=list)  # per batch, per class (in range)

    @property
    def width(self) -> int | None:
        """The classes counted: the number known, else the largest label + 1 (None: no label)."""
        if not self.valid:
            return None
        return self.classes if self.classes is not None else self.high + 1

    def table(self, width: int) -> tuple[list[list[int]], list[int]]:
        """(counts per batch, counts over every batch), each ``width`` classes wide."""
        per_batch = [row[:width] + [0] * (width - len(row[:width])) for row in self.batch_counts]
        counts = [sum(col) for col in zip(*per_batch)] if per_batch else [0] * width
        return per_batch, counts


@dataclass
class Measured:
    """Everything data-check read, as plain numbers; the rules judge it."""

    batches: int = 0
    samples: int = 0  # input samples (sequences, images, rows)
    targets: int = 0  # labels / target rows (= samples, or positions for per-position labels)
    position_word: str = "positions"  # tokens | pixels | positions
    inputs_known: bool = True
    inputs: list[InputSummary] = field(default_factory=list)
    target_kind: str = "classes"  # classes | multilabel | regression | soft | float | none (no
    #                               targets) | parts (several parts, none judged) | unused (by the loss)
    target_parts: list = field(default_factory=list)  # targets.TargetPart of a non-tensor target
    label_part: str | None = None  # the part of a non-tensor target judged as class labels
    labels_used: bool | None = None  # False: permuted labels gave the identical loss and gradients
    labels_read: bool = False  # the model's outputs change with the labels: it reads them (teacher forcing)
    targets_are_inputs: bool = False  # the targets are a tensor of the batch's inputs (an autoencoder)
    ignored_where_varies: bool = False  # per-position labels ignored at positions that differ by sample
    target_dtype: str = ""
    labels: LabelSummary | None = None
    target_stats: scale.ChannelStats | None = None  # regression / multi-label targets per column
    target_bad: tuple | None = None  # (count, batch) of non-finite targets
    duplicates: int = 0
    hashed: int = 0
    conflicting: int = 0
    first_duplicate: tuple | None = None  # ((batch, index), (batch, index))
    batch_entropy: float | None = None  # label entropy per batch / that of shuffled batches (None: not judged)
    batch_tops: list[tuple[float, int]] = field(default_factory=list)  # (top share, class) of the first batches
    pairing: Pairing | None = None  # the pairing control (None: turned off)
    edges: Edges | None = None  # sequence labels at the rows' edges (padding evidence, dominance.py)
    row_sums: RowSums | None = None  # soft targets' row sums (multihot.py)
    leakage: Leakage | None = None  # validation samples found in training (leakage.py)
    copies: Copies | None = None  # targets found in their own inputs (copies.py)

    @property
    def per_position(self) -> bool:
        return self.targets > self.samples


def complete(ctx: Context, m: Measured) -> Measured:
    """What the rules need beyond the per-batch numbers: which stream is alone, the sample count
    on each stream, and the batches' label entropy against that of shuffled batches."""
    for stream in m.inputs:
        stream.only, stream.samples = len(m.inputs) == 1, m.samples
    if m.labels_used is False:  # the loss ignores them: nothing about them matters to training
        m.target_parts = [TargetPart(m.label_part or "targets", m.target_dtype, None, reason=UNUSED)]
        m.target_kind, m.labels, m.target_stats, m.target_bad = "unused", None, None, None
    lab = m.labels
    if m.target_kind == "classes" and lab is not None and lab.valid and lab.width <= ctx.settings["max_classes"]:
        found = batch_entropy(*lab.table(lab.width), seed=ctx.seed)
        if found is not None:
            m.batch_entropy, m.batch_tops = found
    return m


def _entropy(counts: torch.Tensor) -> torch.Tensor:
    """Entropy (nats) of each row of class counts."""
    p = counts / counts.sum(-1, keepdim=True).clamp(min=1)
    return -(p * p.clamp(min=1e-30).log()).sum(-1)


def batch_entropy(per_batch: list[list[int]], counts: list[int], seed: int):
    """(per-batch label entropy / that of batches drawn at random (same sizes), the top class share
    of the first 6 batches); None when it cannot tell (too few batches or classes, labels so skewed
    that random batches are nearly pure as well)."""
    observed = torch.tensor([row for row in per_batch if sum(row) >= 2], dtype=torch.float64)
    overall = torch.tensor(counts, dtype=torch.float64)
    if len(observed) < 3 or int((overall > 0).sum()) < 2:
        return None
    width = len(counts)
    gen = torch.Generator().manual_seed(seed)
    p = overall / overall.sum()
    offsets = (torch.arange(64) * width)[:, None]
    expected = []
    for n in observed.sum(1).long().tolist():  # Monte Carlo: 64 random batches of this size
        size = min(n, 2048)  # larger batches: the entropy has converged
        draws = torch.multinomial(p, size * 64, replacement=True, generator=gen).view(64, size)
        hist = torch.bincount((draws + offsets).flatten(), minlength=64 * width).view(64, width).double()
        expected.append(_entropy(hist).mean())
    reference = float(torch.stack(expected).mean())
    if reference < 0.1:
        return None
    ratio = float(_entropy(observed).mean()) / reference
    shares = observed / observed.sum(1, keepdim=True)
    top = shares.max(1)
    return ratio, [(float(v), int(k)) for v, k in zip(top.values[:6], top.indices[:6])]
