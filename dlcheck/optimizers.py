"""The user's optimizer, built the way training builds it: the target's factory
(``callable(params, lr)``), default Adam; and whether it trains at the LR it was handed (DLC004)."""

from __future__ import annotations

import math

import torch
from torch import nn

from dlcheck.errors import UserError, describe_exception
from dlcheck.results import Finding
from dlcheck.rules import finding


def build(factory, params, lr: float, where: str) -> torch.optim.Optimizer:
    """``factory(params, lr=lr)`` (Adam when there is none), or one sentence naming ``where``."""
    if factory is None:
        return torch.optim.Adam(params, lr=lr)
    try:
        opt = factory(params, lr=lr)
    except Exception as exc:
        raise UserError(f"optimizer factory {where} raised {describe_exception(exc)}") from exc
    if not isinstance(opt, torch.optim.Optimizer):
        raise UserError(f"optimizer factory {where} returned a {type(opt).__name__}, not a torch.optim.Optimizer")
    return opt


def group_lrs(opt: torch.optim.Optimizer) -> list[float]:
    """The LR of each param group (tensor LRs read as floats)."""
    return [float(g["lr"]) if isinstance(g.get("lr"), torch.Tensor) else float(g.get("lr", float("nan")))
            for g in opt.param_groups]


def lr_not_taken(got: list[float], lr: float, where: str) -> Finding | None:
    """DLC004: no param group carries the LR the factory was asked for (``got``: the groups' LRs)."""
    if not got or any(math.isclose(v, lr, rel_tol=1e-6) for v in got):
        return None
    shown = ", ".join(f"{v:g}" for v in sorted(set(got))[:4])
    return finding("DLC004", f"optimizer factory {where} was asked for lr {lr:g} and set {shown}: it ignores "
                             f"or rescales its lr argument, so the LR you train with is not the one dlcheck checks")


def effective_lr(factory, lr: float) -> float:
    """The LR the factory really trains at when handed ``lr``: its param groups' largest, built on
    a throwaway parameter (``lr`` itself for a factory that needs the real parameters)."""
    if factory is None:
        return lr
    try:
        opt = factory([nn.Parameter(torch.zeros(1))], lr=lr)
        return max(float(g["lr"]) for g in opt.param_groups)
    except Exception:
        return lr
