"""Recipe step 1: the loss at initialisation against the task's references.

A C-class softmax classifier that knows nothing predicts uniformly, so its cross-entropy is
ln(C); with imbalanced labels a well-initialised output bias can reach the label entropy
H(y) <= ln(C), and below that an untrained model cannot go without a leak. The same holds for
every task (dlcheck/task.py): the *expected* loss is the loss at zero outputs (ln 2 per label
under BCE, E[y²] under MSE), the *constant* reference the best input-independent prediction
(label prior, Var(y)), the *floor* the lowest loss the targets allow (above 0 under label
smoothing). Each is the user's own loss at reference outputs, averaged over the same batches.

The check measures into :class:`Measured`; one small rule per finding code judges it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from dlcheck import distributed
from dlcheck.context import Context
from dlcheck.errors import UserError
from dlcheck.results import CheckResult, Finding, rounded
from dlcheck.rules import finding, judge
from dlcheck.task import SET_NOT_TENSORS, References, Task

Settings = Mapping[str, Any]

NAME = "init-loss"
SETTINGS = {
    "batches": 4,  # batches averaged
    # Above the know-nothing reference: (loss - floor) / (expected - floor), and for mean softmax
    # cross-entropy also the excess in nats (C = 2 or 3: a ratio of 1.25 is init noise; C = 84: a
    # ratio of 1.9 is 4 nats of badly scaled logits). Heads shipped with over-large weights for few
    # classes (torchvision's EfficientNet / MobileNetV3 at 4-10 classes: 2-5x, up to 6 nats) are a
    # real finding but still train, so "far above" warns; only a loss that is broken fails.
    "warn_above_ratio": 1.25,  # above this: noticeably above (DLC102, warn)
    "far_above_ratio": 2.0,  # above this: far above (DLC101, warn)
    "fail_above_ratio": 10.0,  # above this: broken (DLC101, fail)
    "min_excess": 0.3,  # CE: a finding by ratio also needs at least this many nats of excess
    "warn_excess": 1.0,  # CE: this excess is noticeably above whatever the ratio (DLC102)
    "far_excess": 3.0,  # CE: this excess is far above whatever the ratio (DLC101, warn)
    "fail_excess": 10.0,  # CE: this excess fails whatever the ratio (DLC101): logits of std ~5+
    "below_ratio": 0.75,  # (loss - floor) / (min(expected, constant) - floor) below this: warn (DLC103)
    "collapse_fraction": 0.95,  # share of predictions that go to one class ...
    "collapse_margin": 0.5,  # ... with a mean top probability this far from chance (1/C) towards 1: DLC105
    "imbalance_ratio": 0.9,  # constant / expected below this: note the imbalance (DLC109, DLC111)
    "fix_ratio": 1.1,  # --verify-fixes: the final layer is scaled by the largest factor reaching this ratio
}


@dataclass
class Measured:
    """What init-loss measured; the rules below read only this and the task."""

    loss: float
    refs: References
    batches: int
    samples: int
    classes: int | None = None  # the class axis (classification)
    output_width: int | None = None
    top_share: float | None = None  # share of predictions that go to the most-predicted class
    top_class: int | None = None
    confidence: float | None = None  # mean top probability
    top_label_share: float | None = None  # share of the labels that are the most-predicted class (hard labels)
    head: str | None = None  # the name of the last Linear/Conv layer
    declared_classes: int | None = None  # the target's num_classes, when it sets one

    @property
    def ratio(self) -> float | None:
        """(loss - floor) / (expected - floor): 1.0 for a model that knows nothing."""
        expected, floor = self.refs.expected, self.refs.floor or 0.0
        if expected is None or not expected - floor > 0 or not math.isfinite(self.loss):
            return None
        return (self.loss - floor) / (expected - floor)


def run(ctx: Context) -> CheckResult:
    result = ctx.result
    task = ctx.task
    measured = _measure(ctx, task)
    result.metrics.update(_metrics(measured, task))
    result.findings += judge(RULES, measured, task, ctx.settings)
    result.summary = _summary(task, measured)
    return result


# -- measuring ----------------------------------------------------------------------------------
def _measure(ctx: Context, task: Task) -> Measured:
    batches = ctx.batches(int(ctx.settings["batches"]))
    losses, refs, logits_all, targets_all = [], [], [], []
    with ctx.model() as model, torch.no_grad():
        model.train()  # the mode the first training step sees
        for i, batch in enumerate(batches):
            raw, targets = ctx.forward(model, batch, i)
            logits = ctx.logits(raw)
            if i == 0 and task.hard_labels:
                _check_labels(ctx, task, logits, targets)
            losses.append(ctx.loss(raw, targets).detach().float().reshape(-1).mean())
            refs.append(task.reference(ctx.loss_fn, logits, targets, raw))
            if logits is not None:  # None: a model computing its own loss without logits
                logits_all.append(logits.detach().float())
            targets_all.append(targets)
        head = _last_layer(model)
    loss = float(distributed.mean(torch.stack(losses).mean()))  # one host synchronisation (all ranks' mean)
    samples = distributed.total(sum(_samples(l) for l in (logits_all or targets_all)))
    m = Measured(loss=loss, refs=distributed.mean_refs(References.mean(refs)), batches=len(batches),
                 samples=samples, head=head, declared_classes=ctx.target.num_classes)
    if not logits_all:
        return m
    first = logits_all[0]
    m.output_width = int(first.shape[1]) if first.dim() >= 2 else 1
    if task.kind == "classification" and task.classes and task.classes > 1 and first.dim() >= 2:
        m.classes = task.classes
        probs = torch.cat([torch.softmax(l, dim=1).movedim(1, -1).reshape(-1, l.shape[1]) for l in logits_all])
        counts = distributed.mean(torch.bincount(probs.argmax(1), minlength=probs.shape[1]).double())
        m.top_share = float(counts.max()) / float(counts.sum())  # all ranks' predictions together
        m.top_class = int(counts.argmax())
        m.confidence = float(distributed.mean(probs.max(1).values.mean()))
        m.top_label_share = _label_share(targets_all, m.top_class, m.classes) if task.hard_labels else None
    return m


def _label_share(targets_all: list, label: int, classes: int) -> float | None:
    """The share of the (in-range) labels that are ``label`` (all ranks together); None when the
    targets are not class-index tensors."""
    if not all(isinstance(t, torch.Tensor) and not t.is_floating_point() for t in targets_all):
        return None
    y = torch.cat([t.reshape(-1) for t in targets_all])
    y = y[(y >= 0) & (y < classes)]  # ignore_index (-100) and padding left out
    counts = distributed.mean(torch.stack([(y == label).sum(), torch.tensor(y.numel(), device=y.device)]).double())
    return float(counts[0] / counts[1]) if float(counts[1]) > 0 else None


def _samples(value) -> int:
    """Samples in one batch's logits or targets (a tensor's first axis, a list's length)."""
    if isinstance(value, torch.Tensor):
        return int(value.shape[0]) if value.dim() else 1
    return len(value) if isinstance(value, (list, tuple)) else 0


def _last_layer(model) -> str | None:
    last = None
    for name, module in model.named_modules():
        if isinstance(module, (torch.nn.Linear, torch.nn.modules.conv._ConvNd)):
            last = name
    return last


def _check_labels(ctx: Context, task: Task, logits: torch.Tensor, targets) -> None:
    """Class-index labels must lie in [0, C): else cross-entropy cannot run (an error)."""
    if not isinstance(targets, torch.Tensor) or targets.dtype.is_floating_point or logits.dim() < 2:
        return
    width = int(logits.shape[1])
    valid = targets[targets != task.ignore_index]
    if valid.numel() and (int(valid.min()) < 0 or int(valid.max()) >= width):
        lo, hi = int(valid.min()), int(valid.max())
        message = (f"labels in {ctx.target.where('train_loader')} batch 0 range from {lo} to {hi}, "
                   f"but the model outputs {width} classes (0..{width - 1})")
        ctx.result.add("DLC107", message)
        raise UserError(message)


def _metrics(m: Measured, task: Task) -> dict:
    out = {"loss": rounded(m.loss), "batches": m.batches, "samples": m.samples,
           "expected": rounded(m.refs.expected), "constant": rounded(m.refs.constant),
           "floor": rounded(m.refs.floor), "ratio": rounded(m.ratio)}
    if task.kind == "classification":
        out.update({"num_classes": m.classes, "output_width": m.output_width})
        if m.refs.constant is not None:
            out["label_entropy"] = rounded(m.refs.constant)
        if m.top_share is not None:
            out.update({"top_class_share": rounded(m.top_share), "mean_top_probability": rounded(m.confidence)})
    return {k: v for k, v in out.items() if v is not None}


# -- words --------------------------------------------------------------------------------------
def _reference_name(task: Task, m: Measured) -> str:
    """What the expected loss is, in the recipe's words."""
    if task.kind == "classification":
        plain = not task.options.get("weight") and not task.options.get("label_smoothing")
        if plain and m.classes and m.refs.expected is not None \
                and math.isclose(m.refs.expected, math.log(m.classes), rel_tol=1e-3):
            return f"ln({m.classes}) = {m.refs.expected:.2f}"
        return f"the loss at uniform predictions, {m.refs.expected:.3g}"
    if task.kind == "multilabel":
        return f"the loss at zero logits (ln 2 per label), {m.refs.expected:.3g}"
    if task.loss in ("MSELoss", "mse_loss"):
        return f"E[y²] = {m.refs.expected:.3g} (outputs at 0)"
    return f"the loss at zero outputs, {m.refs.expected:.3g}"


def _summary(task: Task, m: Measured) -> str:
    if task.problem:
        return f"initial loss {m.loss:.3g}: {task.problem}"
    if not math.isfinite(m.loss):
        return f"initial loss is {m.loss}"
    if m.ratio is None:
        return f"initial loss {m.loss:.4g}; no reference for {task.kind} with {task.loss}"
    return f"initial loss {m.loss:.3g} is {m.ratio:.2f}x {_reference_name(task, m)}"


# -- rules: one per finding code ----------------------------------------------------------------
def identically_zero(m: Measured, task: Task, s: Settings) -> Finding | None:
    """DLC110: cross-entropy over one output column is 0 whatever the model does."""
    if task.problem:
        return finding("DLC110", f"{task.loss}: {task.problem}")


def no_reference(m: Measured, task: Task, s: Settings) -> Finding | None:
    """DLC108 (info): a loss without known references is reported, not judged."""
    if task.problem is None and (not task.has_references or m.refs.expected is None):
        why = task.note or f"no reference could be computed for {task.loss}"
        advice = None if SET_NOT_TENSORS not in (task.note or "") else \
            ("The task is set already: a loss over a dict or tuple (a distillation term beside the labels' "
             "cross-entropy) has no reference dlcheck can compute; nothing to change.")
        return finding("DLC108", f"initial loss {m.loss:.4g} is reported without a verdict: {why}", advice=advice)


def not_finite(m: Measured, task: Task, s: Settings) -> Finding | None:
    """DLC104: NaN/Inf at step 0."""
    if not math.isfinite(m.loss):
        return finding("DLC104", f"the loss at initialisation is {m.loss}")


def width_mismatch(m: Measured, task: Task, s: Settings) -> Finding | None:
    """DLC106: the class axis differs from the target's num_classes."""
    declared = m.declared_classes
    if declared is None or task.kind not in ("classification", "multilabel"):
        return
    width = task.classes if task.classes is not None else m.output_width
    if width is not None and width != declared:
        axis = "its class axis (dim 1) has" if task.dense else "it has"
        return finding("DLC106", f"the model outputs {width} classes per {'position' if task.dense else 'sample'} "
                                 f"({axis} {width} values) but num_classes is {declared}")


def above(m: Measured, task: Task, s: Settings) -> Finding | None:
    """DLC101: broken (fail) or far above (warn); DLC102: noticeably above the know-nothing
    reference (warn). For mean
    softmax cross-entropy the excess in nats counts too: with C = 2 a ratio of 1.25 is 0.17 nats
    (init noise), with C = 84 a ratio of 1.9 is 4 nats (badly scaled logits)."""
    ratio = m.ratio
    if ratio is None or task.problem:
        return
    what = _reference_name(task, m)
    advice = _head_advice(task, m)
    nats = task.kind == "classification" and task.options.get("reduction", "mean") == "mean"
    excess = m.loss - m.refs.expected if nats else None
    real = excess is None or excess >= s["min_excess"]
    extra = f", {excess:.2g} nats above it" if excess is not None else ""

    def beyond(ratio_key: str, excess_key: str) -> bool:
        return (ratio > s[ratio_key] and real) or (excess is not None and excess > s[excess_key])

    def limit(ratio_key: str, excess_key: str) -> str:
        return f"above {s[ratio_key]:g}x" + (f" or {s[excess_key]:g} nats" if nats else "")

    if beyond("fail_above_ratio", "fail_excess"):
        return finding("DLC101", f"initial loss {m.loss:.3g} is {ratio:.1f}x {what}{extra} (fail "
                                 f"{limit('fail_above_ratio', 'fail_excess')})", advice=advice)
    elif beyond("far_above_ratio", "far_excess"):
        return finding("DLC101", f"initial loss {m.loss:.3g} is {ratio:.1f}x {what}{extra} (far "
                                 f"{limit('far_above_ratio', 'far_excess')}; it fails "
                                 f"{limit('fail_above_ratio', 'fail_excess')})", advice=advice, severity="warn")
    elif beyond("warn_above_ratio", "warn_excess"):
        min_note = f", with at least {s['min_excess']:g} nats" if nats else ""
        return finding("DLC102", f"initial loss {m.loss:.3g} is {ratio:.2f}x {what}{extra} (warn "
                                 f"{limit('warn_above_ratio', 'warn_excess')}{min_note})", advice=advice)


def below(m: Measured, task: Task, s: Settings) -> Finding | None:
    """DLC103: below what any input-independent model reaches."""
    refs = m.refs
    if m.ratio is None or refs.constant is None or task.problem:
        return
    floor = refs.floor or 0.0
    best_constant = min(refs.expected, refs.constant)
    if best_constant - floor <= 0:
        return
    if m.loss - floor < s["below_ratio"] * (best_constant - floor):
        name = {"classification": "the label entropy", "multilabel": "the label-prior entropy"}.get(
            task.kind, "the loss of a constant output at the targets' centre")
        return finding("DLC103", f"initial loss {m.loss:.3g} is below {name}, {best_constant:.3g}: an "
                                 f"untrained model should not beat the best constant prediction")


def imbalance(m: Measured, task: Task, s: Settings) -> Finding | None:
    """DLC109 / DLC111 (info): a set output bias would start well below the zero-output reference."""
    refs = m.refs
    if refs.expected is None or refs.constant is None or task.problem or not refs.expected > 0:
        return
    share = refs.constant / refs.expected
    if share >= s["imbalance_ratio"]:
        return
    if task.kind == "classification":
        return finding("DLC109", f"labels are imbalanced: the label entropy {refs.constant:.3g} is "
                                 f"{share:.0%} of {_reference_name(task, m)}")
    elif task.kind == "multilabel":
        return finding("DLC109", f"labels are imbalanced: an output bias at the label prior would start "
                                 f"at {refs.constant:.3g}, {share:.0%} of ln 2 per label")
    elif task.kind == "regression":
        return finding("DLC111", f"the targets are off-centre: outputs at their mean would start at "
                                 f"{refs.constant:.3g}, {share:.0%} of {_reference_name(task, m)}")


def collapsed(m: Measured, task: Task, s: Settings) -> Finding | None:
    """DLC105: one class takes (almost) every prediction, confidently relative to chance — or to
    that class's share of the labels when it is larger (a bias at the label prior, good practice
    on imbalanced data, predicts the majority class at its frequency)."""
    if m.top_share is None or not m.classes:
        return
    chance = 1.0 / m.classes
    base = max(chance, m.top_label_share or 0.0)
    needed = base + s["collapse_margin"] * (1 - base)
    if m.top_share >= s["collapse_fraction"] and m.confidence >= needed:
        where = "positions" if task.dense else "samples"
        return finding("DLC105", f"{m.top_share:.0%} of {where} are predicted as class {m.top_class} at init, "
                                 f"with mean confidence {m.confidence:.2f} (chance is {chance:.2f}"
                                 + (f"; class {m.top_class} is {m.top_label_share:.0%} of the labels)"
                                    if base > chance else ")"))


#: The rules, in the order their findings are reported.
RULES = (identically_zero, no_reference, not_finite, width_mismatch, above, below, imbalance, collapsed)


def _head_advice(task: Task, m: Measured) -> str:
    """Name the final layer when we can find it."""
    where = f"the final layer '{m.head}'" if m.head else "the final layer"
    if task.kind == "regression":
        return (f"the outputs are far from the targets' scale at init: scale {where}'s weights down, "
                f"set its bias to the targets' mean, or standardise the targets")
    return f"the logits are too large at init: scale {where}'s weights down (e.g. x0.01) and zero its bias"



from dlcheck.checks.init_loss_fixes import FIXES  # noqa: E402  (the fixes --verify-fixes tries)
