"""What the user trains: the task, inferred once per run from the loss, the model's outputs and
the targets, and the two numbers the recipe judges every loss against.

The recipe's references ("ln C at init", "loss to ~0") are stated for softmax classification.
Their meaning carries to every task:

* the **expected loss at init** — the loss of a model that knows nothing: outputs at zero
  (uniform softmax: ln C; zero logits under BCE: ln 2 per label; regression outputs near 0:
  E[y²] for MSE);
* the **constant** reference — the best a model can do that ignores its inputs, i.e. a
  well-initialised output bias: the label entropy H(y) for softmax classification, the
  label-prior entropy for BCE, Var(y) for MSE (a model below it has learned something, or leaks);
* the **floor** — the lowest loss any model can reach on these targets: 0 for hard labels and
  regression; the entropy of the smoothed targets under label smoothing; the BCE entropy of soft
  targets.

All three are computed by calling the user's own loss object on the reference outputs, so
``weight``, ``pos_weight``, ``ignore_index``, ``label_smoothing`` and ``reduction`` are honoured
exactly and the numbers are in the loss's own units. For CrossEntropyLoss the floor's outputs are
the per-sample optimum: with target distribution q (one-hot, smoothed, or soft labels) and class
weights w, the loss -Σ_c w_c q_c log p_c is minimised by p_c ∝ w_c q_c.
"""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

#: Task kinds a target or recipe may name (``task = "regression"``).
KINDS = ("classification", "multilabel", "regression", "other")
#: Aliases accepted when the task is set by hand.
ALIASES = {"binary": "multilabel", "multi-label": "multilabel", "multilabel": "multilabel",
           "classification": "classification", "multiclass": "classification", "segmentation": "classification",
           "language-model": "classification", "lm": "classification", "regression": "regression",
           "other": "other"}

_CE = (nn.CrossEntropyLoss,)
_NLL = (nn.NLLLoss,)
_BCE_LOGITS = (nn.BCEWithLogitsLoss,)
_BCE = (nn.BCELoss,)
_REGRESSION = (nn.MSELoss, nn.L1Loss, nn.SmoothL1Loss, nn.HuberLoss)
_FUNCTIONAL = {F.cross_entropy: "cross_entropy", F.nll_loss: "nll_loss",
               F.binary_cross_entropy_with_logits: "binary_cross_entropy_with_logits",
               F.binary_cross_entropy: "binary_cross_entropy", F.mse_loss: "mse_loss",
               F.l1_loss: "l1_loss", F.smooth_l1_loss: "smooth_l1_loss", F.huber_loss: "huber_loss"}
_KIND_OF = {"CrossEntropyLoss": "classification", "cross_entropy": "classification",
            "NLLLoss": "classification", "nll_loss": "classification",
            "BCEWithLogitsLoss": "multilabel", "binary_cross_entropy_with_logits": "multilabel",
            "BCELoss": "multilabel", "binary_cross_entropy": "multilabel",
            "MSELoss": "regression", "mse_loss": "regression", "L1Loss": "regression", "l1_loss": "regression",
            "SmoothL1Loss": "regression", "smooth_l1_loss": "regression", "HuberLoss": "regression",
            "huber_loss": "regression"}
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


@dataclass
class Task:
    """The task dlcheck judges against. Plain data (the JSON report's ``task``)."""

    kind: str  # classification | multilabel | regression | other | unknown
    loss: str  # the loss's name: CrossEntropyLoss, mse_loss, my_loss ...
    source: str = "inferred"  # inferred | set in the target | set in the recipe
    classes: int | None = None  # classes on the class axis (classification), labels (multilabel)
    dense: bool = False  # per-position predictions: outputs (B, C, d1..dk), targets (B, d1..dk)
    positions: int = 1  # predictions per sample (d1 x ... x dk, or tokens a forward flattened), 1 per sample
    soft_targets: bool = False  # class probabilities instead of class indices
    log_probabilities: bool = False  # NLLLoss: the model outputs log-probabilities
    probabilities: bool = False  # BCELoss: the model outputs probabilities
    options: dict[str, Any] = field(default_factory=dict)  # ignore_index, label_smoothing, weight, ...
    logits: str = "the output tensor"  # where dlcheck's statistics take the logits from
    model_inputs: str | None = None  # how dict batches reach the model (keys passed / left out)
    problem: str | None = None  # a set-up that cannot train at all (e.g. CE over one column)
    note: str | None = None  # why there is no reference, or what inference could not tell
    references: dict[str, Any] = field(default_factory=dict)  # on the first batch, for the report

    @property
    def hard_labels(self) -> bool:
        """Class-index targets, where accuracy is defined."""
        return self.kind == "classification" and not self.soft_targets

    @property
    def per_position(self) -> bool:
        """Many targets per sample (pixels, tokens): some may be ambiguous given the inputs."""
        return self.dense or self.positions > 1

    @property
    def has_references(self) -> bool:
        return self.kind in ("classification", "multilabel", "regression") and self.problem is None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in (None, {}, False) or k == "dense"}

    # -- the references ---------------------------------------------------------------------
    def reference(self, loss_fn, logits: torch.Tensor, targets, outputs=None) -> References:
        """The three references for one batch: the loss (``loss_fn``, the one the check uses)
        at reference outputs of the logits' shape. When the model returns more than the logits
        (``outputs``: a tuple of main and aux logits, a dict), every tensor of the logits' shape in
        it takes the reference value, so a loss that combines them is measured in its own units.
        None where the task has none."""
        if not self.has_references or not isinstance(targets, torch.Tensor) or not isinstance(logits, torch.Tensor):
            return References()
        with torch.no_grad():
            logits = logits.detach().float()
            targets = targets.detach()
            if outputs is not None and not isinstance(outputs, torch.Tensor) and _custom(loss_fn):
                loss_fn = _through(loss_fn, outputs, logits.shape)
            try:
                return self._references(loss_fn, logits, targets)
            except Exception:  # a custom loss that takes more than a tensor (aux heads, dicts)
                if self.source == "inferred":
                    return References()
            try:  # the task was set by hand: its standard loss on the logits stands in
                return self._references(_STANDARD[self.kind], logits, targets)
            except Exception:
                return References()

    def _references(self, loss_fn, logits, targets) -> References:
        if self.kind == "classification":
            return self._classification(loss_fn, logits, targets)
        if self.kind == "multilabel":
            return self._multilabel(loss_fn, logits, targets)
        return self._regression(loss_fn, logits, targets)

    def _value(self, loss_fn, outputs, targets) -> float | None:
        value = loss_fn(outputs, targets)
        if not isinstance(value, torch.Tensor):
            return None
        value = float(value.float().mean())
        return value if math.isfinite(value) else None

    def _classification(self, loss_fn, logits, targets) -> References:
        C = logits.shape[1] if logits.dim() >= 2 else 1
        wrap = (lambda z: F.log_softmax(z, dim=1)) if self.log_probabilities else (lambda z: z)
        zeros = torch.zeros_like(logits)
        expected = self._value(loss_fn, wrap(zeros), targets)
        weight = self.options.get("weight")
        w = torch.tensor(weight, dtype=logits.dtype, device=logits.device) if weight is not None \
            else torch.ones(C, dtype=logits.dtype, device=logits.device)
        shape = [1, C] + [1] * (logits.dim() - 2)
        if self.soft_targets:
            q = targets.float().clamp_min(0)
            valid = torch.ones(q.shape[:1] + q.shape[2:], dtype=torch.bool, device=q.device)
        else:
            ignore = self.options.get("ignore_index", -100)
            valid = targets != ignore
            index = torch.where(valid, targets, torch.zeros_like(targets)).long().clamp(0, C - 1)
            q = F.one_hot(index, C).movedim(-1, 1).to(logits.dtype)
        eps = float(self.options.get("label_smoothing", 0.0) or 0.0)
        q = (1 - eps) * q + eps / C
        # constant: the label distribution as one logit vector for every sample (a set bias)
        counts = (q * valid.unsqueeze(1)).transpose(0, 1).reshape(C, -1).sum(1)
        prior = (counts / counts.sum().clamp_min(1e-12)).clamp_min(1e-12)
        constant = self._value(loss_fn, wrap(prior.log().reshape(shape).expand_as(logits).contiguous()), targets)
        # floor: p_c ∝ w_c q_c per sample (the minimiser of -Σ_c w_c q_c log p_c)
        best = (w.reshape(shape) * q).clamp_min(0)
        best = best / best.sum(1, keepdim=True).clamp_min(1e-12)
        floor_logits = best.clamp_min(math.exp(-_SURE)).log()
        floor = self._value(loss_fn, wrap(floor_logits), targets)
        if floor is not None and floor < 1e-6:
            floor = 0.0
        return References(expected, constant, floor)

    def _multilabel(self, loss_fn, logits, targets) -> References:
        y = targets.float().reshape(logits.shape) if targets.numel() == logits.numel() else targets.float()
        pos_weight = self.options.get("pos_weight")
        pw = torch.tensor(pos_weight, dtype=logits.dtype, device=logits.device) if pos_weight is not None \
            else torch.ones((), dtype=logits.dtype, device=logits.device)
        if self.probabilities:
            to_out = lambda p: p.clamp(_EPS, 1 - _EPS)  # noqa: E731
        else:
            to_out = lambda p: torch.logit(p.double()).clamp(-_SURE, _SURE).to(logits.dtype)  # noqa: E731
        half = torch.full_like(logits, 0.5)
        expected = self._value(loss_fn, to_out(half), targets)
        prior = y.reshape(-1, y.shape[-1]).mean(0) if y.dim() >= 2 else y.mean().reshape(1)
        prevalence = (pw * prior) / (pw * prior + 1 - prior).clamp_min(1e-12)  # optimum with pos_weight
        constant = self._value(loss_fn, to_out(prevalence.expand_as(logits).contiguous()), targets)
        best = (pw * y) / (pw * y + 1 - y).clamp_min(1e-12)
        floor = self._value(loss_fn, to_out(best.expand_as(logits).contiguous() if best.shape != logits.shape
                                            else best), targets)
        if floor is not None and floor < 1e-6:
            floor = 0.0
        return References(expected, constant, floor)

    def _regression(self, loss_fn, logits, targets) -> References:
        y = targets.float()
        if y.shape != logits.shape and y.numel() == logits.numel():
            y_shaped = y.reshape(logits.shape)
        else:
            y_shaped = y
        zeros = torch.zeros_like(logits)
        expected = self._value(loss_fn, zeros, targets)
        centre = y_shaped.median(0).values if isinstance(loss_fn, nn.L1Loss) or _name(loss_fn) == "l1_loss" \
            else y_shaped.mean(0)
        constant = self._value(loss_fn, (zeros + centre) if centre.shape == logits.shape[1:] or centre.dim() == 0
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


def loss_name(loss_fn) -> str:
    """The loss's name in reports; None is dlcheck's default."""
    return "CrossEntropyLoss (default)" if loss_fn is None else _name(loss_fn)


def _name(loss_fn) -> str:
    if loss_fn in _FUNCTIONAL:
        return _FUNCTIONAL[loss_fn]
    if isinstance(loss_fn, nn.Module):
        return type(loss_fn).__name__
    return getattr(loss_fn, "__name__", type(loss_fn).__name__)


def _options(loss_fn) -> dict[str, Any]:
    """The options of a torch loss object that change its references."""
    out: dict[str, Any] = {}
    for key in ("ignore_index", "label_smoothing", "reduction", "delta", "beta"):
        if hasattr(loss_fn, key):
            value = getattr(loss_fn, key)
            if key == "ignore_index" and value == -100:
                continue
            if key == "label_smoothing" and not value:
                continue
            out[key] = value
    for key in ("weight", "pos_weight"):
        value = getattr(loss_fn, key, None)
        if isinstance(value, torch.Tensor):
            out[key] = [float(v) for v in value.detach().float().reshape(-1).tolist()]
    return out


def infer(loss_fn, logits: torch.Tensor | None, targets, *, given: str | None = None,
          given_where: str = "the target", num_classes: int | None = None) -> Task:
    """The task of a set-up from its loss, one batch's logits and targets, and what the user set.

    ``loss_fn`` is None for dlcheck's default CrossEntropyLoss."""
    name = loss_name(loss_fn)
    base = "CrossEntropyLoss" if loss_fn is None else name
    options = _options(loss_fn) if isinstance(loss_fn, nn.Module) else {}
    kind = _KIND_OF.get(base)
    source = "inferred"
    if given is not None:
        wanted = ALIASES.get(str(given).strip().lower())
        if wanted is None:
            from dlcheck.errors import UserError

            raise UserError(f"task '{given}' in {given_where} is not a task: use one of "
                            f"classification, multilabel (binary), regression, other")
        if kind is not None and wanted != kind and wanted != "other":
            from dlcheck.errors import UserError

            raise UserError(f"task '{given}' in {given_where} does not fit the loss {name}, which is a "
                            f"{kind} loss")
        kind, source = wanted, f"set in {given_where}"
    if kind is None:
        return Task(kind="other", loss=name, source=source, options=options,
                    note=f"{name} is not a loss dlcheck knows the references of: set task = "
                         f"'classification' / 'multilabel' / 'regression' in the target if it is one")
    task = Task(kind=kind, loss=name, source=source, options=options,
                log_probabilities=base in ("NLLLoss", "nll_loss"),
                probabilities=base in ("BCELoss", "binary_cross_entropy"))
    if kind == "other" or not isinstance(logits, torch.Tensor) or not isinstance(targets, torch.Tensor):
        if kind != "other":
            task.note = "the outputs or targets are not tensors: no references"
            task.kind = "other"
        return task
    if kind == "classification":
        _shape_classification(task, logits, targets, num_classes)
    elif kind == "multilabel":
        task.classes = int(logits.shape[1]) if logits.dim() >= 2 else 1
        task.positions = int(logits[0].numel() // max(task.classes, 1)) if logits.dim() >= 2 else 1
    else:
        task.classes = None
    return task


def _shape_classification(task: Task, logits: torch.Tensor, targets: torch.Tensor, num_classes) -> None:
    if logits.dim() < 2:
        task.problem = (f"the outputs have shape {tuple(logits.shape)}: cross-entropy needs a class "
                        f"axis (outputs (B, C))")
        return
    C = int(logits.shape[1])
    task.classes = C
    task.soft_targets = targets.dtype.is_floating_point and targets.shape == logits.shape
    if logits.dim() > 2:
        task.dense = True
        task.positions = int(math.prod(logits.shape[2:]))
    if C == 1:
        task.problem = ("cross-entropy over a single output column is identically 0: the model "
                        "outputs one value per sample (a regression or binary output?)")


def logits_rule(outputs) -> str:
    """Where dlcheck takes the logits from, in words (the rule of batches.logits_of)."""
    if isinstance(outputs, torch.Tensor):
        return "the output tensor"
    if isinstance(outputs, (tuple, list)):
        return f"element 0 of the {type(outputs).__name__} of {len(outputs)} the model returns"
    if isinstance(getattr(outputs, "logits", None), torch.Tensor):
        return f"{type(outputs).__name__}.logits"
    if isinstance(outputs, dict):
        for key in ("logits", "out", "output"):
            if isinstance(outputs.get(key), torch.Tensor):
                return f"outputs['{key}']"
    return "none (no tensor found)"
