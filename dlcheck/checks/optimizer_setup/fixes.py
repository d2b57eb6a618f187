"""The optimizer check's fixes for ``--verify-fixes`` (dlcheck.fixes)."""

from __future__ import annotations

import torch

#: the keys of an Adam param group that AdamW takes as they are
_KEPT = ("params", "lr", "betas", "eps", "weight_decay", "amsgrad")


def adamw_for_adam(given):
    """Build AdamW where the optimizer factory builds Adam with weight_decay: the same param groups,
    learning rates and weight decay, decoupled from the gradient."""
    import dataclasses

    from dlcheck import fixes

    factory = given.target.optimizer
    if factory is None:
        return None

    def optimizer(params, lr):
        opt = factory(params, lr=lr)
        if type(opt) is not torch.optim.Adam or not any(g.get("weight_decay") for g in opt.param_groups):
            return opt
        groups = [{k: v for k, v in g.items() if k in _KEPT} for g in opt.param_groups]
        return torch.optim.AdamW(groups, lr=lr)

    decays = sorted({float(g.get("weight_decay", 0)) for g in _groups(given)} - {0.0})
    if not decays:
        return None
    fixed = dataclasses.replace(given.target, optimizer=optimizer, origin=dict(given.target.origin))
    return fixes.Applied(fixed, f"torch.optim.AdamW(params, lr=lr, weight_decay={decays[0]:g})")


def _groups(given) -> list[dict]:
    """The param groups the user's factory builds for the model (an Adam, else none)."""
    with given.ctx.model() as model:
        opt = given.ctx.optimizer(model.parameters())
        return list(opt.param_groups) if type(opt) is torch.optim.Adam else []


#: finding code -> the fix --verify-fixes tries for it
FIXES = {"DLC973": adamw_for_adam}
