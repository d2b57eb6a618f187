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

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

from dlcheck.references import References, _name  # noqa: F401 (References: re-exported)

#: Task kinds a target or recipe may name (``task = "regression"``).
KINDS = ("classification", "multilabel", "regression", "other")
#: Aliases accepted when the task is set by hand.
ALIASES = {"binary": "multilabel", "multi-label": "multilabel", "multilabel": "multilabel",
           "classification": "classification", "multiclass": "classification", "segmentation": "classification",
           "language-model": "classification", "lm": "classification", "regression": "regression",
           "other": "other"}

#: The note of a task the user set whose outputs or targets are no tensors (a dict target): init-loss
#: then says the task needs no change (DLC108).
SET_NOT_TENSORS = "was set, but the outputs or targets are not tensors"

_CE = (nn.CrossEntropyLoss,)
_NLL = (nn.NLLLoss,)
_BCE_LOGITS = (nn.BCEWithLogitsLoss,)
_BCE = (nn.BCELoss,)
_REGRESSION = (nn.MSELoss, nn.L1Loss, nn.SmoothL1Loss, nn.HuberLoss)
_KIND_OF = {"CrossEntropyLoss": "classification", "cross_entropy": "classification",
            "NLLLoss": "classification", "nll_loss": "classification",
            "BCEWithLogitsLoss": "multilabel", "binary_cross_entropy_with_logits": "multilabel",
            "BCELoss": "multilabel", "binary_cross_entropy": "multilabel",
            "MSELoss": "regression", "mse_loss": "regression", "L1Loss": "regression", "l1_loss": "regression",
            "SmoothL1Loss": "regression", "smooth_l1_loss": "regression", "HuberLoss": "regression",
            "huber_loss": "regression"}
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
    own_loss: str | None = None  # the model computes its own loss: where it is found (outputs.loss ...)
    classes_last: bool = False  # logits (B, T, C) against labels (B, T) (Hugging Face's convention)
    shift: int = 0  # causal LM: the logits at position t predict the label at t + shift
    problem: str | None = None  # a set-up that cannot train at all (e.g. CE over one column)
    note: str | None = None  # why there is no reference, or what inference could not tell
    references: dict[str, Any] = field(default_factory=dict)  # on the first batch, for the report

    @property
    def layout(self):
        """Where the model's logits keep their classes and positions (``own_loss.Layout``)."""
        from dlcheck.own_loss import Layout

        return Layout(classes_last=self.classes_last, shift=self.shift)

    @property
    def loss_only(self) -> bool:
        """The model computes its own loss and returns nothing else dlcheck can read (a detector's
        dict of losses, a ``training_step``): checks that compare outputs have nothing to look at."""
        return self.own_loss is not None and self.logits.startswith("none")

    @property
    def ignore_index(self) -> int:
        """The class index the loss ignores (torch's default -100): the one place it is read."""
        return int(self.options.get("ignore_index", -100))

    @property
    def hard_labels(self) -> bool:
        """Class-index targets, where accuracy is defined."""
        return self.kind == "classification" and not self.soft_targets

    def class_targets(self, logits, targets) -> bool:
        """Hard class-index targets for these logits: integer ``(B, d1..dk)`` targets against
        ``(B, C, d1..dk)`` logits, the case where a prediction is the argmax over classes."""
        return self.hard_labels and isinstance(targets, torch.Tensor) and logits is not None \
            and logits.dim() >= 2 and not targets.dtype.is_floating_point \
            and targets.shape == logits.shape[:1] + logits.shape[2:]

    def hits(self, logits, targets) -> tuple[torch.Tensor, torch.Tensor] | None:
        """(correct, counted) predictions of one step on the device, where accuracy applies: hard
        class labels (per position for dense outputs, ignore_index left out) or 0/1 multi-labels."""
        if not isinstance(targets, torch.Tensor) or logits is None or logits.dim() < 1:
            return None
        if self.class_targets(logits, targets):
            valid = targets != self.ignore_index
            return ((logits.argmax(1) == targets) & valid).sum(), valid.sum()
        if self.kind == "multilabel" and targets.numel() == logits.numel():
            y = targets.reshape(logits.shape)
            if not bool(((y == 0) | (y == 1)).all()):
                return None  # soft targets: no accuracy
            cut = 0.5 if self.probabilities else 0.0
            return ((logits > cut) == (y > 0.5)).sum(), torch.full((), float(y.numel()), device=y.device)
        return None

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
        """The three references for one batch (``dlcheck.references.compute``): the loss at
        reference outputs of the logits' shape; None where the task has none."""
        from dlcheck.references import compute

        return compute(self, loss_fn, logits, targets, outputs)



def loss_name(loss_fn) -> str:
    """The loss's name in reports; None is dlcheck's default."""
    return "CrossEntropyLoss (default)" if loss_fn is None else _name(loss_fn)


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
            task.note = "the outputs or targets are not tensors: no references" if source == "inferred" else \
                f"task '{kind}' {SET_NOT_TENSORS}: no references"
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
