"""What a model's structure says before a check measures it: the module a wrapper runs
(``torch.compile``'s ``_orig_mod``, DDP's and DataParallel's ``module``), the BatchNorm layers the
model keeps in eval mode while it trains (a frozen backbone whose overridden ``train()`` leaves it
in eval), and the layers that normalise with fixed statistics without being a running-statistics
BatchNorm (torchvision's ``FrozenBatchNorm2d`` and its look-alikes).

Checks that hook layers measure the unwrapped module: forward hooks registered on the layers of a
compiled model do not fire inside its compiled graph, and the unwrapped module computes the same
function eagerly, with the same parameters and buffers (the wrapper holds no state of its own).
"""

from __future__ import annotations

import torch
from torch import nn

_BN = nn.modules.batchnorm._BatchNorm


def _compiled_type() -> type | None:
    try:
        from torch._dynamo.eval_frame import OptimizedModule
    except Exception:  # noqa: BLE001 - a torch without dynamo: nothing is compiled
        return None
    return OptimizedModule


def is_compiled(module: nn.Module) -> bool:
    compiled = _compiled_type()
    return compiled is not None and isinstance(module, compiled)


def unwrap(model: nn.Module) -> tuple[nn.Module, list[str]]:
    """The module the wrappers around ``model`` run, and the wrappers stripped, outermost first
    (``"torch.compile"``, ``"DistributedDataParallel"``, ``"DataParallel"``); FSDP is kept (its
    parameters are sharded). The same object and ``[]`` for a plain model."""
    from torch.nn.parallel import DataParallel, DistributedDataParallel

    stripped = []
    while True:
        if is_compiled(model) and isinstance(getattr(model, "_orig_mod", None), nn.Module):
            stripped.append("torch.compile")
            model = model._orig_mod
        elif isinstance(model, (DistributedDataParallel, DataParallel)):
            stripped.append(type(model).__name__)
            model = model.module
        else:
            return model, stripped


def compiled_inside(model: nn.Module) -> list[str]:
    """The submodules of ``model`` that are compiled themselves (``self.body = torch.compile(...)``):
    forward hooks on the layers inside them do not fire."""
    return [name for name, m in model.named_modules() if name and is_compiled(m)]


def kept_in_eval(model: nn.Module) -> list[str]:
    """The BatchNorm layers (with running statistics) that ``model.train()`` leaves in eval mode: the
    model normalises with their running statistics in training too, and never updates them. Calls
    the model's own ``train()`` (an override runs) and puts every module's flag back."""
    modes = [(m, m.training) for m in model.modules()]
    try:
        model.train()
        return [name for name, m in model.named_modules()
                if isinstance(m, _BN) and m.track_running_stats and not m.training]
    finally:
        for m, mode in modes:
            m.training = mode


def fixed_norms(model: nn.Module) -> dict[str, str]:
    """Layers that normalise with fixed statistics but are no running-statistics BatchNorm:
    ``FrozenBatchNorm2d`` (torchvision, detectron2) and any module with ``running_mean`` and
    ``running_var`` buffers of its own that is not a ``_BatchNorm``. Name -> type name."""
    found = {}
    for name, m in model.named_modules():
        if isinstance(m, _BN):
            continue
        buffers = dict(m.named_buffers(recurse=False))
        if "FrozenBatchNorm" in type(m).__name__ or (
                isinstance(buffers.get("running_mean"), torch.Tensor)
                and isinstance(buffers.get("running_var"), torch.Tensor)):
            found[name] = type(m).__name__
    return found


def wrapped_note(stripped: list[str]) -> str:
    """' (measured on the module torch.compile wraps)' for the summaries; '' for a plain model."""
    if not stripped:
        return ""
    return f" (measured on the module {' and '.join(dict.fromkeys(stripped))} wraps)"
