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

    opt = _built(given)
    kind, lrs = (type(opt), optimizers.group_lrs(opt)) if opt is not None else (None, [])
    torch_class = kind is not None and getattr(torch.optim, kind.__name__, None) is kind
    if len(lrs) > 1 and all(math.isfinite(v) and v > 0 for v in lrs):  # param groups: keep them, scale the lr
        handed = lr * ctx.lr / max(lrs)  # the lr whose largest group lands on ``lr``
        line = (f"lr = {handed:.3g}  # the lr your optimizer factory is handed: its {len(lrs)} param groups keep "
                f"their ratios, the largest at {lr:.3g}")
    elif kind is not None:
        line = f"{'torch.optim.' if torch_class else ''}{kind.__name__}(model.parameters(), lr={lr:.3g})"
    else:
        line = f"lr = {lr:.3g}  # in your optimizer factory"
    return fixes.Applied(fixes.with_optimizer(given.target, take_lr, lr=lr), line)


def suggested_lr(given):
    """Train at the LR lr-find suggests, in the user's own optimizer factory."""
    return train_at(given, given.result.metrics.get("suggested_lr"))


def _built(given):
    """The optimizer the user's factory builds on a fresh model's parameters at the set-up's lr (a
    factory may need the real parameters to form its groups); None when it cannot be built."""
    from dlcheck import optimizers

    try:
        with given.ctx.model() as model:
            return optimizers.build(given.target.optimizer, list(model.parameters()), given.ctx.lr, "")
    except Exception:
        return None


#: finding code -> the fix --verify-fixes tries for it
FIXES = {"DLC302": suggested_lr, "DLC303": suggested_lr}
