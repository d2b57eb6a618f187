"""Models that compute their own loss: a Hugging Face model given ``labels`` returns an output
whose ``loss`` is the loss to train (with the ``logits`` it was computed from), and a torchvision
detector in training mode returns a dict of losses to be summed. Without a ``loss_fn`` in the
target, that loss is the one dlcheck trains and judges.

The references of such a loss can be known only when dlcheck can see what it compares. So the
task is inferred by *matching*: a standard loss (cross-entropy over the class axis or over the
last axis, with the causal shift of a language model or without; BCE with logits; MSE) on the
model's own logits and labels is computed, and the one that reproduces the model's loss exactly
names the task. A loss that matches none (label smoothing inside the model, a detector's sum of
losses) has no reference: the task is ``other`` and says why."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

#: How close a stand-in's value must come to the model's own loss to count as the same loss.
MATCH_RTOL = 1e-4


@dataclass(frozen=True)
class Layout:
    """Where the classes and positions of the model's logits are, relative to dlcheck's layout
    (classes on axis 1, targets aligned with the positions)."""

    classes_last: bool = False  # logits (B, T, C) against labels (B, T): Hugging Face's convention
    shift: int = 0  # causal LM: the logits at t predict the label at t + 1

    def logits(self, logits: torch.Tensor) -> torch.Tensor:
        """The logits in dlcheck's layout: (B, C, T - shift)."""
        if self.shift:
            logits = logits[:, :-self.shift]
        return logits.movedim(-1, 1) if self.classes_last else logits

    def targets(self, targets):
        """The labels aligned with the logits' positions."""
        if self.shift and isinstance(targets, torch.Tensor):
            return targets[:, self.shift:]
        return targets


class StepReturn(dict):
    """What the target's ``training_step(model, batch)`` returned, as a dict with ``"loss"``."""


def found(outputs) -> tuple[torch.Tensor, str] | None:
    """``(loss, how it was found)`` when the model computed its own loss, else None."""
    if isinstance(outputs, StepReturn):
        return outputs["loss"].reshape(()), "the target's training_step"
    loss = outputs.get("loss") if isinstance(outputs, Mapping) else getattr(outputs, "loss", None)
    if isinstance(loss, torch.Tensor) and loss.numel() == 1:
        return loss.reshape(()), f"{type(outputs).__name__}.loss" if type(outputs) is not dict \
            else "outputs['loss']"
    if isinstance(outputs, Mapping) and outputs and any("loss" in str(k) for k in outputs) \
            and all(isinstance(v, torch.Tensor) and v.numel() == 1 for v in outputs.values()):
        keys = [str(k) for k in outputs]
        return sum(v.reshape(()) for v in outputs.values()), f"the sum of its losses: {' + '.join(keys)}"
    return None


def logits_or_none(outputs):
    """The logits of an output that carries its own loss, or None (a detector's dict of losses)."""
    from dlcheck.batches import logits_of
    from dlcheck.errors import UserError

    if isinstance(outputs, Mapping) and "logits" not in outputs and all(
            isinstance(v, torch.Tensor) and v.numel() == 1 for v in outputs.values()):
        return None  # only losses: a scalar loss is no logit
    try:
        return logits_of(outputs)
    except UserError:
        return None


def missing_labels(outputs) -> bool:
    """A Hugging Face output that carries no loss: the model was not given labels."""
    return not isinstance(outputs, torch.Tensor) and hasattr(outputs, "loss") and getattr(outputs, "loss") is None \
        and isinstance(getattr(outputs, "logits", None), torch.Tensor)


def _candidates(logits: torch.Tensor, targets: torch.Tensor):
    """``(kind, layout, stand-in loss)`` for every standard loss the shapes allow."""
    if not targets.dtype.is_floating_point:
        if logits.dim() >= 2 and targets.shape == logits.shape[:1] + logits.shape[2:]:
            yield "classification", Layout(), nn.CrossEntropyLoss()
        if logits.dim() >= 3 and targets.shape == logits.shape[:-1]:
            yield "classification", Layout(classes_last=True), nn.CrossEntropyLoss()
            if logits.shape[1] > 1:
                yield "classification", Layout(classes_last=True, shift=1), nn.CrossEntropyLoss()
    else:
        if targets.shape == logits.shape:
            yield "multilabel", Layout(), nn.BCEWithLogitsLoss()
        if targets.numel() == logits.numel():
            yield "regression", Layout(), _ShapedMSE()


class _ShapedMSE(nn.MSELoss):
    """MSE on outputs of the targets' shape (Hugging Face squeezes (B, 1) regression logits)."""

    def forward(self, outputs, targets):
        return super().forward(outputs.reshape(targets.shape), targets)


def match(loss: torch.Tensor, logits, targets):
    """The ``(kind, layout, stand-in)`` whose value on the model's logits and labels is the
    model's own loss, or None."""
    if not isinstance(logits, torch.Tensor) or not isinstance(targets, torch.Tensor):
        return None
    own = float(loss.detach().float())
    if not math.isfinite(own):
        return None
    with torch.no_grad():
        for kind, layout, stand_in in _candidates(logits.detach().float(), targets.detach()):
            try:
                value = float(stand_in(layout.logits(logits.detach().float()), layout.targets(targets)))
            except (RuntimeError, ValueError, IndexError):
                continue
            if math.isclose(value, own, rel_tol=MATCH_RTOL, abs_tol=1e-6):
                return kind, layout, stand_in
    return None


def standard(kind: str):
    """The stand-in loss of a matched kind (what the references are computed with)."""
    return {"classification": nn.CrossEntropyLoss(), "multilabel": nn.BCEWithLogitsLoss(),
            "regression": _ShapedMSE()}.get(kind, F.cross_entropy)


def infer(loss: torch.Tensor, how: str, logits, targets, num_classes: int | None = None):
    """The task of a model that computes its own loss (``how``: where the loss was found)."""
    from dlcheck import task as tasks

    name = f"the model's own loss ({how})"
    matched = match(loss, logits, targets)
    if matched is None:
        why = ("dlcheck sees no logits and labels it compares" if not isinstance(logits, torch.Tensor)
               or not isinstance(targets, torch.Tensor) else
               "it is not a standard loss of the model's logits and labels (label smoothing, weights "
               "or extra terms inside the model?)")
        return tasks.Task(kind="other", loss=name, own_loss=how,
                          note=f"the model computes its own loss, and {why}: no reference; set loss_fn "
                               f"in the target for one")
    kind, layout, stand_in = matched
    task = tasks.infer(stand_in, layout.logits(logits), layout.targets(targets), num_classes=num_classes)
    task.loss, task.own_loss = name, how
    task.classes_last, task.shift = layout.classes_last, layout.shift
    return task


def loss_alone(target) -> str:
    """Why a loss-only set-up (task.loss_only) shows no outputs, in words for a summary: the
    target's training_step, or the model itself returning its loss (a detector's loss dict)."""
    if target.training_step is not None:
        return ("the target's training_step returns the loss alone (a forward + loss_fn in its place "
                "would hand over the model's outputs)")
    return "the model returns its loss alone"
