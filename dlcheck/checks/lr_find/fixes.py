"""lr-find's fixes for ``--verify-fixes`` (dlcheck.fixes): the suggested LR in the user's optimizer
factory (DLC302, DLC303). overfit-small's LR fix (DLC201, DLC205) trains at lr-find's suggestion
through :func:`train_at` too."""

from __future__ import annotations

import math

import torch
from torch import nn


def train_at(given, lr: float | None):
    """The set-up training at ``lr``: its ``lr`` set to it and its optimizer factory made to take the
    lr it is handed (the largest param group gets it, the others keep their ratios, as lr-find's
    sweep sets them). None without a finite LR, and under --lr (the command line sets the LR)."""
    from dlcheck import fixes, optimizers
    from dlcheck.checks.lr_find.measure import _lr_setter

    ctx = given.ctx
    if lr is None or not math.isfinite(lr) or lr <= 0 or ctx.lr_override is not None:
        return None

    def take_lr(optimizer, handed):
        _lr_setter(optimizer)(handed)
        return optimizer

    try:  # the optimizer's class, for the line (a factory may need the real parameters)
        kind = type(optimizers.build(given.target.optimizer, [nn.Parameter(torch.zeros(1))], ctx.lr, ""))
    except Exception:
        kind = None
    torch_class = kind is not None and getattr(torch.optim, kind.__name__, None) is kind
    line = f"{'torch.optim.' if torch_class else ''}{kind.__name__}(model.parameters(), lr={lr:.3g})" \
        if kind is not None else f"lr = {lr:.3g}  # in your optimizer factory"
    return fixes.Applied(fixes.with_optimizer(given.target, take_lr, lr=lr), line)


def suggested_lr(given):
    """Train at the LR lr-find suggests, in the user's own optimizer factory."""
    return train_at(given, given.result.metrics.get("suggested_lr"))


#: finding code -> the fix --verify-fixes tries for it
FIXES = {"DLC302": suggested_lr, "DLC303": suggested_lr}
