"""init-loss's fixes for ``--verify-fixes`` (dlcheck.fixes): the final layer scaled down and its
bias zeroed, or set to the log label prior where the labels are imbalanced (DLC101, DLC102,
DLC105)."""

from __future__ import annotations

import math

import torch

#: the factors scale_final_layer tries, largest first
FIX_FACTORS = (1.0, 0.5, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001)


def scale_final_layer(given):
    """Zero the final layer's bias, or set it to the log label prior where the labels are
    imbalanced (DLC109's numbers), and scale its weights by the largest factor that brings the
    initial loss to its reference (the know-nothing one, or the label prior's): else the factor
    with the lowest loss."""
    from dlcheck import fixes
    from dlcheck.checks.init_loss import _last_layer

    ctx, metrics = given.ctx, given.result.metrics
    expected, floor = metrics.get("expected"), metrics.get("floor") or 0.0
    if not isinstance(expected, float) or not expected > floor:
        return None
    batches = ctx.batches(int(ctx.settings["batches"]))
    with ctx.model() as model, torch.no_grad():
        head = _last_layer(model)
        if head is None:
            return None
        layer, model = model.get_submodule(head), model.train()
        prior = label_prior(ctx, model, batches, layer.bias, metrics)
        reference = metrics["constant"] if prior is not None else expected
        bias = torch.zeros_like(layer.bias) if layer.bias is not None else None
        if prior is not None:
            bias = prior_bias(ctx.task, prior).to(bias)
        factor = _factor(ctx, model, layer, bias, batches, reference - floor, floor)
    change = _Scaled(head, factor, None if bias is None else bias.cpu())
    path = fixes.attribute_path(head)
    if prior is None:
        line = f"nn.init.zeros_({path}.bias); " if bias is not None else ""
    else:
        values = ", ".join(f"{float(p):.4g}" for p in prior)
        how = "logit" if ctx.task.kind == "multilabel" else "log"
        line = f"{path}.bias.data.copy_(torch.tensor([{values}]).{how}()); "
    line += f"{path}.weight.data.mul_({factor:g})" if factor != 1.0 else ""
    return fixes.Applied(fixes.with_model(given.target, change), line.rstrip("; "))


def _factor(ctx, model, layer, bias, batches, excess: float, floor: float) -> float:
    """The largest of FIX_FACTORS whose loss is within ``fix_ratio`` x ``excess`` of the floor (the
    layer's weights scaled, its bias set to ``bias``), else the one with the lowest loss."""
    from dlcheck import distributed

    weight, losses = layer.weight.detach().clone(), {}
    if bias is not None:
        layer.bias.copy_(bias)
    for factor in FIX_FACTORS:
        layer.weight.copy_(weight * factor)
        loss = torch.stack([ctx.loss(*ctx.forward(model, b, i)).detach().float().mean()
                            for i, b in enumerate(batches)]).mean()
        losses[factor] = float(distributed.mean(loss))  # under torchrun: the ranks' mean, as init-loss
        if losses[factor] - floor <= ctx.settings["fix_ratio"] * excess:
            return factor
    return min(losses, key=lambda f: losses[f] if math.isfinite(losses[f]) else math.inf)


class _Scaled:
    """The change: the head's weights scaled by ``factor``, its bias set to ``bias``."""

    def __init__(self, head: str, factor: float, bias):
        self.head, self.factor, self.bias = head, factor, bias

    def __call__(self, model):
        with torch.no_grad():
            layer = model.get_submodule(self.head)
            if self.bias is not None:
                layer.bias.copy_(self.bias.to(layer.bias))
            layer.weight.mul_(self.factor)
        return model


def label_prior(ctx, model, batches, bias, metrics: dict) -> torch.Tensor | None:
    """The labels' prior on ``batches`` where they are imbalanced (label entropy below
    ``imbalance_ratio`` x the know-nothing loss, as DLC109 says) and the final layer has a bias
    with one entry per class: per class for hard labels, per label for multi-label targets. None
    for balanced labels, soft targets, class weights or label smoothing (the best constant output
    is then not the log prior)."""
    from dlcheck import distributed, fixes

    task, constant, expected = ctx.task, metrics.get("constant"), metrics.get("expected")
    plain = not any(task.options.get(k) for k in ("weight", "pos_weight", "label_smoothing"))
    if bias is None or constant is None or not expected or constant / expected >= ctx.settings["imbalance_ratio"] \
            or not plain or task.kind not in ("classification", "multilabel"):
        return None
    targets = [ctx.forward(model, b, i)[1] for i, b in enumerate(batches)]
    if not all(isinstance(t, torch.Tensor) for t in targets):
        return None
    width = bias.shape[0]
    if task.kind == "classification" and task.hard_labels:
        labels = torch.cat([t.reshape(-1) for t in targets])
        labels = labels[labels != task.ignore_index]
        if not labels.numel() or int(labels.min()) < 0 or int(labels.max()) >= width:
            return None
        counts = fixes.summed(torch.bincount(labels.long().cpu(), minlength=width).double())  # all ranks'
        return (counts + 1) / (counts.sum() + width)  # no class at log 0
    if task.kind == "multilabel" and all(t.dim() == 2 and t.shape[1] == width for t in targets):
        share = torch.cat(targets).double().cpu().mean(0)
        if distributed.active():  # every rank's labels: their sums and rows over the ranks
            stacked = torch.cat(targets).double().cpu()
            sums = fixes.summed(torch.cat([stacked.sum(0), torch.tensor([float(stacked.shape[0])],
                                                                         dtype=torch.float64)]))
            share = sums[:-1] / sums[-1]
        return share.clamp(1e-4, 1 - 1e-4)
    return None


def prior_bias(task, prior: torch.Tensor) -> torch.Tensor:
    """The output bias at which a know-nothing model predicts ``prior``: its log for a softmax,
    its logit per label for sigmoids."""
    return (prior.logit() if task.kind == "multilabel" else prior.log()).float()


#: finding code -> the fix --verify-fixes tries for it (dlcheck.fixes)
FIXES = {"DLC101": scale_final_layer, "DLC102": scale_final_layer, "DLC105": scale_final_layer}
