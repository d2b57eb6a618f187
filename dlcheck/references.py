"""The three loss references of a task, each the user's own loss at reference outputs (see
``dlcheck.task``): the *expected* loss of a model that knows nothing (outputs at zero), the
*constant* reference of the best input-independent model (a well-set output bias), and the *floor*
the targets allow (for CrossEntropyLoss the per-sample optimum p_c ∝ w_c q_c)."""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

_FUNCTIONAL = {F.cross_entropy: "cross_entropy", F.nll_loss: "nll_loss",
               F.binary_cross_entropy_with_logits: "binary_cross_entropy_with_logits",
               F.binary_cross_entropy: "binary_cross_entropy", F.mse_loss: "mse_loss",
               F.l1_loss: "l1_loss", F.smooth_l1_loss: "smooth_l1_loss", F.huber_loss: "huber_loss"}
#: The loss that stands in for a custom one when the task is set by hand.
_STANDARD = {"classification": F.cross_entropy, "multilabel": F.binary_cross_entropy_with_logits,
             "regression": F.mse_loss}
#: BCE on probabilities: where the floor's outputs are clipped (log(0) is -inf).
_EPS = 1e-6
#: Logits standing in for certainty (softmax/sigmoid of ±30 is 1 to float precision).
_SURE = 30.0


@dataclass
class References:
    """The loss references of one batch, in the loss's own units (None where they do not apply)."""

    expected: float | None = None  # a model that knows nothing (outputs at zero)
    constant: float | None = None  # the best input-independent model (a well-set output bias)
    floor: float | None = None  # the lowest loss any model can reach on these targets

    @staticmethod
    def mean(refs: list["References"]) -> "References":
        """The average over batches (each reference averaged where every batch has it)."""
        def avg(name):
            values = [getattr(r, name) for r in refs]
            return sum(values) / len(values) if values and all(v is not None for v in values) else None

        return References(avg("expected"), avg("constant"), avg("floor"))


def compute(task, loss_fn, logits: torch.Tensor, targets, outputs=None) -> References:
    """The three references for one batch: the loss (``loss_fn``, the one the check uses)
    at reference outputs of the logits' shape. When the model returns more than the logits
    (``outputs``: a tuple of main and aux logits, a dict), every tensor of the logits' shape in
    it takes the reference value, so a loss that combines them is measured in its own units.
    None where the task has none."""
    if not task.has_references or not isinstance(targets, torch.Tensor) or not isinstance(logits, torch.Tensor):
        return References()
    with torch.no_grad():
        logits = logits.detach().float()
        targets = targets.detach()
        if outputs is not None and not isinstance(outputs, torch.Tensor) and _custom(loss_fn):
            loss_fn = _through(loss_fn, outputs, logits.shape)
        try:
            return _references(task, loss_fn, logits, targets)
        except Exception:  # a custom loss that takes more than a tensor (aux heads, dicts)
            if task.source == "inferred":
                return References()
        try:  # the task was set by hand: its standard loss on the logits stands in
            return _references(task, _STANDARD[task.kind], logits, targets)
        except Exception:
            return References()


def _references(task, loss_fn, logits, targets) -> References:
    if task.kind == "classification":
        return _classification(task, loss_fn, logits, targets)
    if task.kind == "multilabel":
        return _multilabel(task, loss_fn, logits, targets)
    return _regression(task, loss_fn, logits, targets)

def _value(loss_fn, outputs, targets) -> float | None:
    value = loss_fn(outputs, targets)
    if not isinstance(value, torch.Tensor):
        return None
    value = float(value.float().mean())
    return value if math.isfinite(value) else None

def _classification(task, loss_fn, logits, targets) -> References:
    C = logits.shape[1] if logits.dim() >= 2 else 1
    wrap = (lambda z: F.log_softmax(z, dim=1)) if task.log_probabilities else (lambda z: z)
    zeros = torch.zeros_like(logits)
    expected = _value(loss_fn, wrap(zeros), targets)
    weight = task.options.get("weight")
    w = torch.tensor(weight, dtype=logits.dtype, device=logits.device) if weight is not None \
        else torch.ones(C, dtype=logits.dtype, device=logits.device)
    shape = [1, C] + [1] * (logits.dim() - 2)
    if task.soft_targets:
        q = targets.float().clamp_min(0)
        valid = torch.ones(q.shape[:1] + q.shape[2:], dtype=torch.bool, device=q.device)
    else:
        ignore = task.ignore_index
        valid = targets != ignore
        index = torch.where(valid, targets, torch.zeros_like(targets)).long().clamp(0, C - 1)
        q = F.one_hot(index, C).movedim(-1, 1).to(logits.dtype)
    eps = float(task.options.get("label_smoothing", 0.0) or 0.0)
    q = (1 - eps) * q + eps / C
    # constant: the label distribution as one logit vector for every sample (a set bias)
    counts = (q * valid.unsqueeze(1)).transpose(0, 1).reshape(C, -1).sum(1)
    prior = (counts / counts.sum().clamp_min(1e-12)).clamp_min(1e-12)
    constant = _value(loss_fn, wrap(prior.log().reshape(shape).expand_as(logits).contiguous()), targets)
    # floor: p_c ∝ w_c q_c per sample (the minimiser of -Σ_c w_c q_c log p_c)
    best = (w.reshape(shape) * q).clamp_min(0)
    best = best / best.sum(1, keepdim=True).clamp_min(1e-12)
    floor_logits = best.clamp_min(math.exp(-_SURE)).log()
    floor = _value(loss_fn, wrap(floor_logits), targets)
    if floor is not None and floor < 1e-6:
        floor = 0.0
    return References(expected, constant, floor)

def _multilabel(task, loss_fn, logits, targets) -> References:
    y = targets.float().reshape(logits.shape) if targets.numel() == logits.numel() else targets.float()
    pos_weight = task.options.get("pos_weight")
    pw = torch.tensor(pos_weight, dtype=logits.dtype, device=logits.device) if pos_weight is not None \
        else torch.ones((), dtype=logits.dtype, device=logits.device)
    if task.probabilities:
        to_out = lambda p: p.clamp(_EPS, 1 - _EPS)  # noqa: E731
    else:
        to_out = lambda p: torch.logit(p.double()).clamp(-_SURE, _SURE).to(logits.dtype)  # noqa: E731
    half = torch.full_like(logits, 0.5)
    expected = _value(loss_fn, to_out(half), targets)
    prior = y.reshape(-1, y.shape[-1]).mean(0) if y.dim() >= 2 else y.mean().reshape(1)
    prevalence = (pw * prior) / (pw * prior + 1 - prior).clamp_min(1e-12)  # optimum with pos_weight
    constant = _value(loss_fn, to_out(prevalence.expand_as(logits).contiguous()), targets)
    best = (pw * y) / (pw * y + 1 - y).clamp_min(1e-12)
    floor = _value(loss_fn, to_out(best.expand_as(logits).contiguous() if best.shape != logits.shape
                                        else best), targets)
    if floor is not None and floor < 1e-6:
        floor = 0.0
    return References(expected, constant, floor)

def _regression(task, loss_fn, logits, targets) -> References:
    y = targets.float()
    if y.shape != logits.shape and y.numel() == logits.numel():
        y_shaped = y.reshape(logits.shape)
    else:
        y_shaped = y
    zeros = torch.zeros_like(logits)
    expected = _value(loss_fn, zeros, targets)
    centre = y_shaped.median(0).values if isinstance(loss_fn, nn.L1Loss) or _name(loss_fn) == "l1_loss" \
        else y_shaped.mean(0)
    constant = _value(loss_fn, (zeros + centre) if centre.shape == logits.shape[1:] or centre.dim() == 0
                           else zeros + centre.mean(), targets)
    return References(expected, constant, 0.0)


def _custom(loss_fn) -> bool:
    """A loss of the user's own (it takes what the model returns); torch's losses take the logits."""
    return not isinstance(loss_fn, nn.Module) and loss_fn not in _FUNCTIONAL


def _through(loss_fn, outputs, shape):
    """``loss_fn`` taking a reference tensor in place of every tensor of ``shape`` in ``outputs``
    (tuples, lists, dicts, output objects with such attributes)."""
    def rebuild(obj, z):
        if isinstance(obj, torch.Tensor):
            return z if obj.shape == shape else torch.zeros_like(obj)
        if isinstance(obj, tuple) and hasattr(obj, "_fields"):
            return type(obj)(*(rebuild(o, z) for o in obj))
        if isinstance(obj, (tuple, list)):
            return type(obj)(rebuild(o, z) for o in obj)
        if isinstance(obj, dict):
            return {k: rebuild(v, z) for k, v in obj.items()}
        if hasattr(obj, "__dict__"):
            new = copy.copy(obj)
            for k, v in vars(obj).items():
                if isinstance(v, torch.Tensor):
                    setattr(new, k, rebuild(v, z))
            return new
        return obj

    return lambda z, targets: loss_fn(rebuild(outputs, z), targets)


def _name(loss_fn) -> str:
    if loss_fn in _FUNCTIONAL:
        return _FUNCTIONAL[loss_fn]
    if isinstance(loss_fn, nn.Module):
        return type(loss_fn).__name__
    return getattr(loss_fn, "__name__", type(loss_fn).__name__)
