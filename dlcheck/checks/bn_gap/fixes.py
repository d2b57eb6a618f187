"""bn-gap's fixes for ``--verify-fixes`` (dlcheck.fixes): running statistics restored
(DLC503), momentum 0.1 (DLC504, DLC510), GroupNorm for BatchNorm at tiny batches (DLC505, DLC506).
Each names the BatchNorm layers the way bn-gap judges them: those the model trains (not the ones
it keeps in eval mode), found in the model, not parsed from the finding's words."""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

#: PyTorch's default BatchNorm momentum, what DLC504 / DLC510's fix restores
DEFAULT_MOMENTUM = 0.1
#: GroupNorm's default number of groups (Wu & He 2018) ...
MAX_GROUPS = 32
#: ... and the fewest channels a group keeps: a BatchNorm1d may see (N, C) features, one value
#: per channel, so its groups stay larger than a conv's (whose channels carry a feature map)
MIN_GROUP_CHANNELS = {"BatchNorm1d": 16}
MIN_CONV_GROUP_CHANNELS = 4


def _bns(given, wanted: Callable[[nn.Module], bool]) -> list[tuple[str, nn.Module]]:
    """``(name, BN)`` of the BatchNorm layers the model trains for which ``wanted(bn)``, read on a
    fresh build (nothing is kept past the block but names and plain numbers)."""
    from dlcheck.modules import kept_in_eval, unwrap

    with given.ctx.model() as handed:
        model = unwrap(handed)[0]
        held = kept_in_eval(model)
        return [(n, _Shape.of(m)) for n, m in model.named_modules()
                if isinstance(m, nn.modules.batchnorm._BatchNorm) and n not in held and wanted(m)]


class _Shape:
    """A BatchNorm layer's constructor arguments as plain numbers."""

    def __init__(self, kind, features, eps, momentum, affine):
        self.kind, self.features, self.eps, self.momentum, self.affine = kind, features, eps, momentum, affine

    @classmethod
    def of(cls, m: nn.Module) -> "_Shape":
        return cls(type(m).__name__, int(m.num_features), float(m.eps), m.momentum, bool(m.affine))


def _changed(given, names: list[str], change_one: Callable[[nn.Module, str], None]):
    """The set-up with ``change_one(model, name)`` applied to each named layer of a fresh copy."""
    from dlcheck import fixes
    from dlcheck.modules import unwrap

    def change(model):
        inner = unwrap(model)[0]
        for name in names:
            change_one(inner, name)
        return model

    return fixes.with_model(given.target, change)


# -- DLC503 -------------------------------------------------------------------------------------
def _track(model: nn.Module, name: str) -> None:
    """Running statistics for ``name``, as ``track_running_stats=True`` builds them (mean 0, var 1)."""
    bn = model.get_submodule(name)
    like = dict(device=bn.weight.device if bn.affine else None)
    bn.track_running_stats = True
    bn.register_buffer("running_mean", torch.zeros(bn.num_features, **like))
    bn.register_buffer("running_var", torch.ones(bn.num_features, **like))
    bn.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long, device=like["device"]))


def track_running_stats(given):
    """Rebuild the BatchNorm layers built with ``track_running_stats=False`` with it ``True``, so
    that eval mode normalises with running statistics instead of each batch's own."""
    from dlcheck import fixes

    found = _bns(given, lambda m: not m.track_running_stats)
    if not found:
        return None
    line = "; ".join(f"{fixes.attribute_path(n)} = nn.{s.kind}({s.features}{_args(s)}, track_running_stats=True)"
                     for n, s in found)
    return fixes.Applied(_changed(given, [n for n, _ in found], _track), line)


def _args(s: _Shape) -> str:
    """The non-default constructor arguments a rebuilt layer keeps."""
    out = "" if s.eps == 1e-5 else f", eps={s.eps:g}"
    out += "" if s.momentum == DEFAULT_MOMENTUM else f", momentum={s.momentum if s.momentum is None else f'{s.momentum:g}'}"
    return out + ("" if s.affine else ", affine=False")


# -- DLC504, DLC510 -----------------------------------------------------------------------------
def _momentum_fix(given, wanted: Callable[[nn.Module], bool]):
    from dlcheck import fixes

    found = _bns(given, lambda m: m.track_running_stats and wanted(m))
    if not found:
        return None

    def set_momentum(model, name):
        model.get_submodule(name).momentum = DEFAULT_MOMENTUM

    line = "; ".join(f"{fixes.attribute_path(n)}.momentum = {DEFAULT_MOMENTUM:g}" for n, _ in found)
    return fixes.Applied(_changed(given, [n for n, _ in found], set_momentum), line)


def momentum_default(given):
    """Set the momentum of BatchNorm layers with ``momentum=0`` (running statistics frozen at mean
    0 / var 1) to PyTorch's default 0.1."""
    return _momentum_fix(given, lambda m: m.momentum == 0)


def momentum_not_inverted(given):
    """Set a momentum of 0.5 or more (Keras' 0.99 convention, where momentum weighs the old
    statistics) to PyTorch's default 0.1, which weighs the new batch."""
    high = float(given.ctx.settings["high_momentum"])
    return _momentum_fix(given, lambda m: m.momentum is not None and m.momentum >= high)


# -- DLC505, DLC506 -----------------------------------------------------------------------------
def groups_for(kind: str, channels: int) -> int:
    """GroupNorm's number of groups for ``channels``: the largest divisor of ``channels`` up to
    ``MAX_GROUPS`` that keeps at least the kind's fewest channels a group (1 at the least)."""
    most = min(MAX_GROUPS, channels // MIN_GROUP_CHANNELS.get(kind, MIN_CONV_GROUP_CHANNELS))
    return max([d for d in range(1, max(1, most) + 1) if channels % d == 0])


def _to_group_norm(model: nn.Module, name: str) -> None:
    """Put a GroupNorm in the place of the BatchNorm ``name``, its affine parameters carried over."""
    bn = model.get_submodule(name)
    gn = nn.GroupNorm(groups_for(type(bn).__name__, bn.num_features), bn.num_features, eps=bn.eps, affine=bn.affine)
    if bn.affine:
        gn = gn.to(device=bn.weight.device, dtype=bn.weight.dtype)
        with torch.no_grad():
            gn.weight.copy_(bn.weight)
            gn.bias.copy_(bn.bias)
    parent, _, leaf = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, leaf, gn)


def group_norm_for_batch_norm(given):
    """Replace every BatchNorm layer the model trains by ``nn.GroupNorm(groups, C)`` (groups: up to
    32 dividing C), which normalises each sample alone and so does not depend on the batch size."""
    from dlcheck import fixes

    found = _bns(given, lambda m: True)
    if not found:
        return None
    line = "; ".join(f"{fixes.attribute_path(n)} = nn.GroupNorm({groups_for(s.kind, s.features)}, {s.features}"
                     f"{'' if s.eps == 1e-5 else f', eps={s.eps:g}'}{'' if s.affine else ', affine=False'})"
                     for n, s in found)
    return fixes.Applied(_changed(given, [n for n, _ in found], _to_group_norm), line)


#: finding code -> the fix --verify-fixes tries for it (dlcheck.fixes)
FIXES = {"DLC503": track_running_stats, "DLC504": momentum_default, "DLC510": momentum_not_inverted,
         "DLC505": group_norm_for_batch_norm, "DLC506": group_norm_for_batch_norm}
