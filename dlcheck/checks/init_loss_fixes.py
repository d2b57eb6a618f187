"""init-loss's fixes for ``--verify-fixes`` (dlcheck.fixes): the final layer scaled down, its
bias zeroed (DLC101, DLC102)."""

from __future__ import annotations

import math

import torch

#: the factors scale_final_layer tries, largest first
FIX_FACTORS = (1.0, 0.5, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001)


def scale_final_layer(given):
    """Zero the final layer's bias and scale its weights by the largest factor that brings the
    initial loss to the know-nothing reference (else the factor with the lowest loss)."""
    from dlcheck import fixes
    from dlcheck.checks.init_loss import _last_layer

    ctx, metrics = given.ctx, given.result.metrics
    expected, floor = metrics.get("expected"), metrics.get("floor") or 0.0
    if not isinstance(expected, float) or not expected > floor:
        return None
    batches, losses = ctx.batches(int(ctx.settings["batches"])), {}
    with ctx.model() as model, torch.no_grad():
        head = _last_layer(model)
        if head is None:
            return None
        layer, model = model.get_submodule(head), model.train()
        weight = layer.weight.detach().clone()
        if layer.bias is not None:
            layer.bias.zero_()
        for factor in FIX_FACTORS:
            layer.weight.copy_(weight * factor)
            losses[factor] = float(torch.stack([ctx.loss(*ctx.forward(model, b, i)).detach().float().mean()
                                                for i, b in enumerate(batches)]).mean())
            if (losses[factor] - floor) <= ctx.settings["fix_ratio"] * (expected - floor):
                break
    factor = factor if factor in losses and losses[factor] - floor <= ctx.settings["fix_ratio"] * (
        expected - floor) else min(losses, key=lambda f: losses[f] if math.isfinite(losses[f]) else math.inf)

    def change(model):
        with torch.no_grad():
            layer = model.get_submodule(head)
            if layer.bias is not None:
                layer.bias.zero_()
            layer.weight.mul_(factor)
        return model

    path = fixes.attribute_path(head)
    line = (f"nn.init.zeros_({path}.bias); " if layer.bias is not None else "") + \
        (f"{path}.weight.data.mul_({factor:g})" if factor != 1.0 else "")
    return fixes.Applied(fixes.with_model(given.target, change), line.rstrip("; "))


#: finding code -> the fix --verify-fixes tries for it (dlcheck.fixes)
FIXES = {"DLC101": scale_final_layer, "DLC102": scale_final_layer}
