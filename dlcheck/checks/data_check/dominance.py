"""Targets dominated by one class value the loss counts (DLC713): padding in a language model,
background in segmentation, one class of per-sample labels.

The share of each value comes from the label counts the reader keeps anyway (measure.LabelSummary,
the loss's ignore_index already left out). What the reader adds here, batch by batch, is the
evidence that a value is *padding*: for sequence targets (B, T), the positions where a value fills
the start or the end of a row (a run of at least two), and of those, the positions where the
inputs (token ids of the same shape) are such a run as well, as padded inputs are. Padding gets
its own, lower threshold (``pad_share``); any other value must be nearly all of the targets
(``dominant_share``: real segmentation has 60-75 % background, and that is healthy)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch

from dlcheck.rules import finding

if TYPE_CHECKING:
    from dlcheck.checks.data_check.measure import Measured

#: losses whose ignore_index and weight dlcheck reads (task.options)
READ_LOSSES = ("CrossEntropyLoss", "cross_entropy", "NLLLoss", "nll_loss")


@dataclass
class Edges:
    """Per class value, over the sequence targets read: label positions in a run of that value at
    the start or the end of a row, and of those, positions where the inputs run too."""

    edge: list[int] = field(default_factory=list)
    with_inputs: list[int] = field(default_factory=list)
    inputs_seen: bool = False  # token-id inputs of the targets' shape were compared

    def share(self, value: int, count: int) -> tuple[float, float | None]:
        """(share of the value's positions at a row's edge, share of those where the inputs run
        too; None: no inputs to compare)."""
        edge = self.edge[value] if value < len(self.edge) else 0
        paired = self.with_inputs[value] if value < len(self.with_inputs) else 0
        return edge / max(count, 1), (paired / edge if edge else 0.0) if self.inputs_seen else None


def _runs(t: torch.Tensor) -> torch.Tensor:
    """Positions in a run of a row's first or last value that is at least 2 long."""
    trail = (t == t[:, -1:]).flip(1).long().cumprod(1).flip(1)
    lead = (t == t[:, :1]).long().cumprod(1)
    return ((trail.sum(1, keepdim=True) >= 2) & trail.bool()) | ((lead.sum(1, keepdim=True) >= 2) & lead.bool())


def _id_inputs(inputs, shape) -> torch.Tensor | None:
    from dlcheck.checks.data_check.parts import leaves

    for _, v in leaves(inputs):
        if isinstance(v, torch.Tensor) and v.shape == shape and not v.dtype.is_floating_point \
                and not v.is_complex():
            return v
    return None


def add(m: Measured, inputs, targets: torch.Tensor, ignore_index: int, cap: int) -> None:
    """Count one batch's edge runs (sequence class labels (B, T) only)."""
    if m.target_kind != "classes" or targets.dim() != 2 or targets.shape[1] < 4:
        return
    t = targets.long()
    valid = (t != ignore_index) & (t >= 0) & (t < cap)
    edge = _runs(t) & valid
    if m.edges is None:
        m.edges = Edges()
    e = m.edges
    _accumulate(e.edge, t[edge])
    ids = _id_inputs(inputs, targets.shape) if inputs is not None else None
    if ids is not None:
        e.inputs_seen = True
        _accumulate(e.with_inputs, t[edge & _runs(ids.long())])


def reduce_ranks(m: Measured) -> None:
    """Under torchrun (on every rank): the edge counts summed over ranks."""
    from dlcheck import distributed

    e = m.edges or Edges()
    have, inputs, width = distributed.reduce_floats(
        [float(m.edges is not None), float(e.inputs_seen), float(max(len(e.edge), len(e.with_inputs)))],
        ["max", "max", "max"])
    if not have:
        return
    width = int(width)
    padded = [float(v) for xs in (e.edge, e.with_inputs) for v in xs + [0] * (width - len(xs))]
    out = [int(v) for v in distributed.reduce_floats(padded, ["sum"] * len(padded))]
    m.edges = Edges(edge=out[:width], with_inputs=out[width:], inputs_seen=bool(inputs))


def _accumulate(into: list[int], values: torch.Tensor) -> None:
    if not values.numel():
        return
    counts = torch.bincount(values).tolist()
    into.extend([0] * (len(counts) - len(into)))
    for i, c in enumerate(counts):
        into[i] += c


# -- the rule -----------------------------------------------------------------------------------
@dataclass
class Dominant:
    value: int
    share: float
    total: int
    unit: str
    edge: float | None  # share of its positions at the rows' edges (None: not sequence targets)
    inputs: float | None  # ... of those, where the inputs run too (None: not compared)
    padding: bool


def dominant(m: Measured, s) -> Dominant | None:
    """The most frequent class value when it is over its threshold (None: no value is)."""
    lab = m.labels
    if m.target_kind != "classes" or lab is None or not lab.valid or lab.width > s["max_classes"]:
        return None
    counts = lab.table(lab.width)[1]
    total = sum(counts)
    if total < s["dominant_min_targets"] or sum(1 for c in counts if c) < 2:
        return None
    value = max(range(len(counts)), key=counts.__getitem__)
    share = counts[value] / total
    edge = inputs = None
    if m.edges is not None:
        edge, inputs = m.edges.share(value, counts[value])
    padding = edge is not None and edge >= s["pad_edge_share"] and (inputs is None or inputs >= s["pad_input_share"])
    if share < (s["pad_share"] if padding else s["dominant_share"]):
        return None
    unit = m.position_word if m.per_position else "samples"
    return Dominant(value, share, total, unit, edge, inputs, padding)


def loss_read(task) -> bool:
    """The loss is one whose ignore_index and weight dlcheck reads."""
    return task.own_loss is not None or task.loss.split()[0] in READ_LOSSES


def judged(task) -> bool:
    return task is not None and task.kind == "classification" and not task.soft_targets and task.problem is None \
        and "weight" not in task.options  # class weights set: the user balanced the loss


def dominant_target(m: Measured, task, s) -> object:
    """DLC713: one class value is most of the targets and the loss counts it."""
    d = dominant(m, s) if judged(task) else None
    if d is None:
        return None
    what = f"label {d.value} is {d.share:.0%} of the {d.total} target {d.unit}"
    if d.padding:
        what += f" and looks like padding (it fills the start or end of the rows: {d.edge:.0%} of its {d.unit}"
        what += f"; the inputs are padded there too: {d.inputs:.0%})" if d.inputs is not None else ")"
    if not loss_read(task):
        return finding("DLC713", f"{what}; the loss is {task.loss} and dlcheck cannot read whether it ignores "
                                 f"or down-weights it", severity="info")
    fix = (f"Let the loss skip the padding: CrossEntropyLoss(ignore_index={d.value}) (or set the padded labels "
           f"to -100)." if d.padding else
           f"If {d.value} is a real class (background): class weights (CrossEntropyLoss(weight=...)), a Dice "
           f"or focal term, or resampling; if it is padding, CrossEntropyLoss(ignore_index={d.value}).")
    return finding("DLC713", f"{what}; the loss {task.loss} counts it (no ignore_index for it, no class "
                             f"weights)", advice=fix)


def obstacle(m: Measured, task, s) -> str | None:
    """Why the pairing control cannot judge dominated targets: both runs mostly learn that value."""
    f = dominant_target(m, task, s)
    if f is None or f.severity == "info":
        return None
    d = dominant(m, s)
    kind = "padding " if d.padding else ""
    return (f"label {d.value} is {d.share:.0%} of the targets ({kind}the loss counts; DLC713): true and "
            f"permuted labels would both mostly learn it, so the control cannot tell whether inputs and "
            f"labels are paired")
