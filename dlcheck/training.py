"""The one training step every check that trains uses (no second copy anywhere).

forward -> loss -> backward -> optimizer step -> zero_grad(set_to_none=True); AMP on CUDA behind
``--amp`` (bf16 where supported, else fp16 with a GradScaler). Losses stay on the device: the
step never calls ``.item()``, so a GPU is not synchronised per step.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
from torch import nn

from dlcheck.context import Context
from dlcheck.errors import SetupFailure, UserError
from dlcheck.results import listing


@dataclass
class StepOutput:
    loss: torch.Tensor  # 0-dim, detached, on the device
    outputs: torch.Tensor  # the logits (ctx.logits of what the model returned), detached
    targets: object
    raw: object = None  # what the model returned (tensors detached), for the task's references


class Trainer:
    """Trains ``model`` with ``optimizer`` one batch at a time."""

    def __init__(self, ctx: Context, model: nn.Module, optimizer: torch.optim.Optimizer):
        self.ctx = ctx
        self.model = model
        self.optimizer = optimizer
        self.autocast_dtype = None
        self.scaler = None
        if ctx.amp and ctx.device.type == "cuda":
            if torch.cuda.is_bf16_supported():
                self.autocast_dtype = torch.bfloat16
            else:
                self.autocast_dtype = torch.float16
                self.scaler = torch.amp.GradScaler("cuda")
        self._checked = False
        self._reached = False

    def _autocast(self):
        """Mixed precision under --amp on CUDA; otherwise no context at all (nothing to pay per step)."""
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.ctx.device.type, dtype=self.autocast_dtype)

    def _check_reached(self) -> None:
        """After the first backward: a loss that reached no parameter trains nothing (DLC005)."""
        if self._reached:
            return
        self._reached = True
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        if trainable and all(p.grad is None for p in trainable):
            raise SetupFailure("DLC005", _no_gradient(self.model, requires_grad=True))

    def step(self, batch, index: int = 0) -> StepOutput:
        ctx = self.ctx
        with self._autocast():
            outputs, targets = ctx.forward(self.model, batch, index)
            loss = ctx.loss(outputs, targets)
        if not self._checked:
            if not isinstance(loss, torch.Tensor) or loss.dim() != 0:
                shape = tuple(loss.shape) if isinstance(loss, torch.Tensor) else type(loss).__name__
                raise UserError(f"the loss must be a scalar tensor, got {shape}")
            if not loss.requires_grad:
                raise SetupFailure("DLC005", _no_gradient(self.model))
            self._checked = True
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self._check_reached()
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            loss.backward()
            self._check_reached()
            self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return StepOutput(loss.detach(), ctx.logits(outputs).detach(), targets, detached(outputs))


def chunk_losses(losses: list[torch.Tensor]) -> torch.Tensor:
    """A chunk of per-step losses as one 1-D tensor on the device; under torchrun the global mean
    over ranks (one all-reduce per chunk, where the host syncs anyway), so that every stop and
    verdict read from it is the same on every rank."""
    from dlcheck import distributed

    return distributed.mean(torch.stack([l.float() for l in losses]))


def all_finite(losses) -> tuple[bool, int | None]:
    """Whether a chunk of on-device losses (a list of 0-dim tensors, or one 1-D tensor) is finite,
    and the index of the first that is not.

    One host synchronisation per chunk instead of one per step.
    """
    if len(losses) == 0:
        return True, None
    stacked = losses.float() if isinstance(losses, torch.Tensor) else torch.stack([l.float() for l in losses])
    bad = ~torch.isfinite(stacked)
    if not bool(bad.any()):
        return True, None
    return False, int(bad.nonzero()[0].item())


def _no_gradient(model: nn.Module, requires_grad: bool = False) -> str:
    """Why a loss has no gradient: every parameter frozen (named), or none on the loss's path."""
    params = list(model.named_parameters())
    trainable = [n for n, p in params if p.requires_grad]
    if not params:
        return "the model has no parameters: there is nothing to train"
    if not trainable:
        return (f"no parameter requires grad: all {len(params)} are frozen "
                f"({listing([n for n, _ in params])})")
    graph = "the loss's graph reaches none of them" if requires_grad else "the loss does not depend on them"
    return (f"the loss has no path to any parameter: {len(trainable)} of {len(params)} parameters "
            f"require grad, but {graph} (the forward or the loss detaches the outputs, or runs "
            f"under torch.no_grad())")


def detached(obj):
    """``obj`` with every tensor in tuples, lists and dicts detached (output objects kept as they are)."""
    if isinstance(obj, torch.Tensor):
        return obj.detach()
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(detached(o) for o in obj))
    if isinstance(obj, (tuple, list)):
        return type(obj)(detached(o) for o in obj)
    if isinstance(obj, dict):
        return {k: detached(v) for k, v in obj.items()}
    return obj
