"""Targets copied into the inputs (DLC716): is each sample's target found, verbatim, inside that
same sample's inputs, at one fixed place? The off-by-H slice of a forecaster (the input window
cut H steps too late, so that it ends with the very values to predict), the label column left
among a table's features, a video's next frame among its input frames. The model reads the
answer instead of learning it: the training and validation losses come out near zero, and the
model is useless where the answer is not handed to it.

Measured per batch on the tensors as the loader gives them: for every tensor part of the inputs
whose sample shape differs from the target's along one axis alone (a scalar target against a row
of features: width 1 along the features), the number of samples whose target equals the input at
each offset along that axis, exactly. A target the same shape as the input (an autoencoder's, a
language model's shifted tokens) is no candidate. Exact equality across every sample read, with
targets that vary from sample to sample, does not happen by chance; a rescaled copy is not found.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch

from dlcheck.checks.data_check import parts
from dlcheck.rules import finding

if TYPE_CHECKING:
    from dlcheck.checks.data_check.measure import Measured

#: Elements compared per batch and candidate at most (larger inputs are not searched).
MAX_COMPARED = 20_000_000


@dataclass
class Copies:
    """Samples compared, and per place (input part, axis, width, its length) the samples whose
    target sits there: {(part, axis, width, length): [matches per offset]}."""

    samples: int = 0
    varied: bool = False  # the targets differ between samples (a constant would match any constant)
    first: torch.Tensor | None = field(default=None, repr=False)  # the first sample's target
    matches: dict = field(default_factory=dict)

    def best(self) -> tuple[tuple, int, int] | None:
        """(place, offset, matches) of the place most samples' targets sit at; None: no candidate."""
        found = [(key, o, n) for key, row in self.matches.items() for o, n in enumerate(row)]
        return max(found, key=lambda f: f[2]) if found else None


def _axis(sample: tuple, target: tuple) -> tuple[int, int] | None:
    """(axis, width) along which a target of sample shape ``target`` can sit inside an input of
    sample shape ``sample``: the one axis where it is shorter; None when the shapes allow none."""
    if target == () and len(sample) == 1 and sample[0] >= 2:
        return 0, 1
    if len(target) != len(sample) or target == sample:
        return None
    shorter = [a for a, (s, t) in enumerate(zip(sample, target)) if s != t]
    if len(shorter) != 1 or target[shorter[0]] > sample[shorter[0]]:
        return None
    return shorter[0], target[shorter[0]]


def _matches(x: torch.Tensor, y: torch.Tensor, axis: int, width: int) -> list[int] | None:
    """Per offset along ``axis`` of the samples, how many samples' target equals the input there."""
    y = y[:, None] if y.dim() == 1 else y
    windows = x.movedim(1 + axis, -1).unfold(-1, width, 1)  # (B, rest..., offsets, width)
    if windows.numel() > MAX_COMPARED:
        return None
    same = (windows == y.movedim(1 + axis, -1).unsqueeze(-2).to(x.dtype)).all(-1)  # (B, rest..., offsets)
    return same.reshape(len(x), -1, same.shape[-1]).all(1).sum(0).tolist()


def add(m: Measured, inputs, targets: torch.Tensor) -> None:
    """Compare one batch's targets with each tensor part of its inputs."""
    if inputs is None or targets.dim() == 0 or targets.is_complex() or targets.dtype == torch.bool:
        return
    c = m.copies = m.copies or Copies()
    y = targets.detach()
    n = len(y)
    if c.first is None:
        c.first = y[0].clone()
    c.varied = c.varied or bool((y != c.first.to(y.device)).reshape(n, -1).any())
    counted = False
    for name, x in parts.leaves(inputs):
        if not isinstance(x, torch.Tensor) or x.dim() < 2 or len(x) != n or x.is_complex():
            continue
        place = _axis(tuple(x.shape[1:]), tuple(y.shape[1:]))
        if place is None:
            continue
        found = _matches(x.detach(), y, *place)
        if found is None:
            continue
        key = (name, place[0], place[1], x.shape[1 + place[0]])
        row = c.matches.setdefault(key, [0] * len(found))
        c.matches[key] = [a + b for a, b in zip(row, found)]
        counted = True
    c.samples += n if counted else 0


def where(key: tuple, offset: int) -> str:
    """Where in the input the copy sits, in words."""
    name, axis, width, length = key
    if width == 1:
        return f"{name}[..., {offset}]" if axis else f"feature {offset} of {name}"
    end = offset + width
    span = f"the last {width}" if end == length else f"positions {offset}..{end - 1}"
    return f"{span} of the {length} positions along axis {axis + 1} of {name}"


def target_in_inputs(m: Measured, task, s) -> object:
    """DLC716: every sample's target found verbatim at one place in its own inputs."""
    c = m.copies
    best = c.best() if c is not None and c.varied else None
    if best is None or c.samples < s["copy_min_samples"] or best[2] < c.samples:
        return None
    key, offset, _ = best
    return finding("DLC716", f"the targets are in the inputs: in all {c.samples} samples read, the target "
                             f"equals {where(key, offset)}, exactly: the model can read the answer "
                             f"instead of predicting it")


def reduce_ranks(m: Measured) -> None:
    """Under torchrun (on every rank): the samples summed; a copy stands when every rank found its
    targets in every sample at the same place (ranks read alike batches, so its own place is said)."""
    from dlcheck import distributed

    c = m.copies or Copies()
    best = c.best()
    everywhere = float(best is not None and best[2] == c.samples and c.samples > 0)
    samples, varied, all_copied = distributed.reduce_floats([c.samples, float(c.varied), everywhere],
                                                            ["sum", "max", "min"])
    c.samples, c.varied = int(samples), bool(varied)
    if best is not None and all_copied:
        c.matches = {best[0]: [0] * best[1] + [c.samples]}
    else:
        c.matches = {}
    m.copies = c
