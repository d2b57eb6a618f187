"""Recipe step 1: the loss at initialisation against ln(C) and the label entropy.

A C-class softmax classifier that knows nothing predicts uniformly, so its cross-entropy is
ln(C). With imbalanced labels a well-initialised output bias can reach the label entropy
H(y) <= ln(C); below that an untrained model cannot go without a leak.
"""

from __future__ import annotations

import math

import torch

from dlcheck.context import Context
from dlcheck.results import CheckResult, rounded

NAME = "init-loss"
SETTINGS = {
    "batches": 4,  # batches averaged
    "warn_above_ratio": 1.25,  # loss / ln(C) above this: warn (DLC102)
    "fail_above_ratio": 2.0,  # loss / ln(C) above this: fail (DLC101)
    "below_ratio": 0.75,  # loss / min(ln C, H(y)) below this: warn (DLC103)
    "collapse_fraction": 0.95,  # share of samples predicted as one class ...
    "collapse_confidence": 0.5,  # ... with a mean top probability above this: warn (DLC105)
    "imbalance_ratio": 0.9,  # H(y) / ln(C) below this: note the imbalance (DLC109)
}


def run(ctx: Context) -> CheckResult:
    s = ctx.settings
    result = ctx.result
    batches = ctx.batches(int(s["batches"]))
    losses, outputs_all, targets_all = [], [], []
    with ctx.model() as model, torch.no_grad():
        model.train()  # the mode the first training step sees
        for i, batch in enumerate(batches):
            outputs, targets = ctx.forward(model, batch, i)
            if i == 0 and ctx.is_cross_entropy:
                _check_labels(ctx, outputs, targets)
            losses.append(ctx.loss(outputs, targets).detach().float().reshape(-1).mean())
            outputs_all.append(outputs.detach().float())
            targets_all.append(targets.detach() if isinstance(targets, torch.Tensor) else targets)
    loss = float(torch.stack(losses).mean())  # one host synchronisation
    outputs = torch.cat([o.reshape(o.shape[0], -1) if o.dim() > 1 else o[:, None] for o in outputs_all])
    result.metrics.update({"loss": rounded(loss), "batches": len(batches), "samples": int(outputs.shape[0])})

    if not ctx.is_cross_entropy:
        result.summary = f"initial loss {loss:.4g}; the ln(C) reference applies to softmax cross-entropy only"
        result.add("DLC108", f"the loss {_loss_name(ctx)} is not softmax cross-entropy: "
                             f"initial loss {loss:.4g} is reported without a verdict")
        if not math.isfinite(loss):
            result.add("DLC104", f"the initial loss is {loss}")
        return result

    width = int(outputs.shape[1])
    classes = ctx.num_classes(outputs_all[0])
    expected = math.log(classes) if classes and classes > 1 else float("nan")
    entropy = _label_entropy(targets_all, width)
    result.metrics.update({"expected": rounded(expected), "num_classes": classes, "output_width": width})
    if entropy is not None:
        result.metrics["label_entropy"] = rounded(entropy)

    if ctx.target.num_classes is not None and width != ctx.target.num_classes:
        result.add("DLC106", f"the model outputs {width} values per sample but num_classes is "
                             f"{ctx.target.num_classes}")
    if not math.isfinite(loss):
        result.summary = f"initial loss is {loss}"
        result.add("DLC104", f"the loss at initialisation is {loss}")
        return result
    if not math.isfinite(expected):
        result.summary = f"initial loss {loss:.4g}; one output class, so no ln(C) reference"
        return result

    ratio = loss / expected
    result.metrics["ratio"] = rounded(ratio)
    result.summary = f"initial loss {loss:.3g} is {ratio:.2f}x ln({classes}) = {expected:.2f}"
    floor = expected
    if entropy is not None and entropy < s["imbalance_ratio"] * expected:
        floor = entropy
        result.add("DLC109", f"labels are imbalanced: their entropy {entropy:.3g} is "
                             f"{entropy / expected:.0%} of ln({classes})")
    if ratio > s["fail_above_ratio"]:
        result.add("DLC101", f"initial loss {loss:.3g} is {ratio:.1f}x ln({classes}) = {expected:.2f} "
                             f"(fail above {s['fail_above_ratio']:g}x)", advice=_head_advice(model))
    elif ratio > s["warn_above_ratio"]:
        result.add("DLC102", f"initial loss {loss:.3g} is {ratio:.2f}x ln({classes}) = {expected:.2f} "
                             f"(warn above {s['warn_above_ratio']:g}x)", advice=_head_advice(model))
    elif loss < s["below_ratio"] * floor:
        reference = "the label entropy" if floor != expected else f"ln({classes})"
        result.add("DLC103", f"initial loss {loss:.3g} is below {reference} = {floor:.3g}: "
                             f"an untrained model should not do better than chance")

    probs = torch.softmax(outputs, dim=1)
    top = probs.argmax(dim=1)
    top_share = float(torch.bincount(top, minlength=width).max()) / top.numel()
    confidence = float(probs.max(dim=1).values.mean())
    result.metrics.update({"top_class_share": rounded(top_share), "mean_top_probability": rounded(confidence)})
    if classes > 1 and top_share >= s["collapse_fraction"] and confidence >= s["collapse_confidence"]:
        cls = int(torch.bincount(top, minlength=width).argmax())
        result.add("DLC105", f"{top_share:.0%} of samples are predicted as class {cls} at init, "
                             f"with mean confidence {confidence:.2f}")
    return result


def _check_labels(ctx: Context, outputs: torch.Tensor, targets) -> None:
    """Class-index labels must lie in [0, width): else cross-entropy cannot run (an error)."""
    if not isinstance(targets, torch.Tensor) or targets.dtype.is_floating_point or outputs.dim() < 2:
        return
    width = int(outputs.shape[1])
    valid = targets[targets != -100]  # CrossEntropyLoss's default ignore_index
    if valid.numel() and (int(valid.min()) < 0 or int(valid.max()) >= width):
        from dlcheck.errors import UserError

        lo, hi = int(valid.min()), int(valid.max())
        message = (f"labels in {ctx.target.where('train_loader')} batch 0 range from {lo} to {hi}, "
                   f"but the model outputs {width} classes (0..{width - 1})")
        ctx.result.add("DLC107", message)
        raise UserError(message)


def _label_entropy(targets_all, width: int) -> float | None:
    """Entropy (nats) of the label distribution seen, for class indices or soft labels."""
    if not targets_all or not all(isinstance(t, torch.Tensor) for t in targets_all):
        return None
    if all(not t.dtype.is_floating_point for t in targets_all):
        labels = torch.cat([t.reshape(-1) for t in targets_all])
        labels = labels[(labels >= 0) & (labels < width)]
        if labels.numel() == 0:
            return None
        p = torch.bincount(labels.long(), minlength=width).float()
    elif all(t.dim() == 2 and t.shape[1] == width for t in targets_all):
        p = torch.cat(targets_all).float().sum(dim=0).clamp_min(0)
    else:
        return None
    p = p / p.sum()
    p = p[p > 0]
    return float(-(p * p.log()).sum())


def _head_advice(model) -> str:
    """Name the final layer when we can find it."""
    last = None
    for name, module in model.named_modules():
        if isinstance(module, (torch.nn.Linear, torch.nn.Conv2d, torch.nn.Conv1d)):
            last = name
    where = f"the final layer '{last}'" if last else "the final layer"
    return f"the logits are too large at init: scale {where}'s weights down (e.g. x0.01) and zero its bias"


def _loss_name(ctx: Context) -> str:
    fn = ctx.target.loss_fn
    return type(fn).__name__ if isinstance(fn, torch.nn.Module) else getattr(fn, "__name__", "given")
