"""The one training step every check that trains uses (no second copy anywhere; the package
``dlcheck.training`` re-exports it).

forward -> loss -> backward -> optimizer step -> zero_grad(set_to_none=True); AMP on CUDA behind
``--amp`` (bf16 where supported, else fp16 with a GradScaler). Losses stay on the device: the
step never calls ``.item()``, so a GPU is not synchronised per step.

Under a GradScaler each step also says whether the scaler skipped it (inf/NaN gradients: no
optimizer step, the scale lowered): ``StepOutput.skipped``, a 0-dim bool on the device (the scale
after the step below the scale it ran at), read with the losses, a chunk at a time
(:func:`kept_losses`). ``forced_precision`` gives every Trainer made inside it a precision of the
caller's choice on any device (fp16 with a GradScaler on the CPU: how the tests exercise the
scaler's path); users get mixed precision through ``--amp``, on CUDA only.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
from torch import nn

from dlcheck.context import Context
from dlcheck.device import map_tensors
from dlcheck.errors import SetupFailure, UserError
from dlcheck.step import labels_out_of_range, resolved
from dlcheck.results import listing


@dataclass
class StepOutput:
    loss: torch.Tensor  # 0-dim, detached, on the device
    outputs: torch.Tensor  # the logits (ctx.logits of what the model returned), detached
    targets: object
    raw: object = None  # what the model returned (tensors detached), for the task's references
    skipped: torch.Tensor | None = None  # 0-dim bool on the device: the GradScaler skipped the step (None: no scaler)


@dataclass(frozen=True)
class Precision:
    """Mixed precision for a Trainer: autocast to ``dtype``; fp16 with a GradScaler built with ``scaler``'s
    keyword arguments (``init_scale``, ``growth_interval``, ...)."""

    dtype: torch.dtype
    scaler: dict | None = None  # GradScaler keyword arguments; None: no scaler (bf16)


_FORCED: list[Precision] = []  # forced_precision's, innermost last


@contextlib.contextmanager
def forced_precision(dtype: torch.dtype = torch.float16, **scaler):
    """A test hook: every Trainer made inside trains under autocast ``dtype`` on ``ctx.device``
    (the CPU included) whatever ``--amp`` says, with a GradScaler(**scaler) for fp16."""
    _FORCED.append(Precision(dtype, dict(scaler) if dtype == torch.float16 else None))
    try:
        yield
    finally:
        _FORCED.pop()


def precision_of(ctx: Context) -> Precision | None:
    """The precision a Trainer trains at: ``forced_precision``'s, else ``--amp`` on CUDA (bf16 where
    supported, else fp16 with a default GradScaler), else None (float32; --amp on the CPU changes nothing)."""
    if _FORCED:
        return _FORCED[-1]
    if ctx.amp and ctx.device.type == "cuda":
        return Precision(torch.bfloat16) if torch.cuda.is_bf16_supported() else Precision(torch.float16, {})
    return None


#: DLC005 for a model without any parameter (every check that trains fails with it)
NO_PARAMETERS = "the model has no parameters at all: training cannot change it"


def no_parameters() -> SetupFailure:
    """DLC005 for a model without any parameter, with its own advice (the catalogue's is for frozen ones)."""
    failure = SetupFailure("DLC005", NO_PARAMETERS)
    failure.advice = ("Give the model layers with weights, or check what the model factory returns (a model "
                      "of fixed functions only, such as nn.Sequential(nn.Flatten()), has nothing to train).")
    return failure


class Trainer:
    """Trains ``model`` with ``optimizer`` one batch at a time."""

    def __init__(self, ctx: Context, model: nn.Module, optimizer: torch.optim.Optimizer,
                 precision: Precision | None = None):
        self.ctx = ctx
        self.model = model
        self.optimizer = optimizer
        self.autocast_dtype = None
        self.scaler = None
        precision = precision or precision_of(ctx)
        if precision is not None:
            self.autocast_dtype = precision.dtype
            if precision.scaler is not None:
                self.scaler = torch.amp.GradScaler(ctx.device.type, **precision.scaler)
        self._checked = False
        self._reached = False
        # ctx.forward then ctx.loss, resolved once instead of per step
        self._forward_loss = resolved(ctx.target, ctx.loss_fn, ctx.task.layout, ctx.input_key, ctx.target_key)

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

    def step(self, batch, index: int = 0, outputs: bool = True) -> StepOutput:
        """One training step. ``outputs=False``: the loss alone (no logits or raw outputs kept; a
        loop that reads only the loss pays nothing more per step than a bare loop)."""
        ctx = self.ctx
        if not self._checked:
            _check_unused_on_ranks(self, batch, index)
        try:
            if self.autocast_dtype is None:  # no context to enter per step
                returned, targets, loss = self._forward_loss(self.model, batch, index)
            else:
                with self._autocast():
                    returned, targets, loss = self._forward_loss(self.model, batch, index)
        except RuntimeError as exc:  # DDP's own report of it, when a later batch leaves one out
            if "find_unused_parameters" in str(exc) or "finished reduction in the prior iteration" in str(exc):
                raise SetupFailure("DLC015", _ddp_unused(exc)) from exc
            raise
        except UserError as exc:  # labels out of range on a later batch: named by loader and batch
            raise labels_out_of_range(ctx, batch, index, exc) or exc
        if not self._checked:
            if not isinstance(loss, torch.Tensor) or loss.dim() != 0:
                shape = tuple(loss.shape) if isinstance(loss, torch.Tensor) else type(loss).__name__
                raise UserError(f"the loss must be a scalar tensor, got {shape}")
            if not loss.requires_grad:
                raise SetupFailure("DLC005", _no_gradient(self.model))
            self._checked = True
        skipped = self._update(loss)
        if not outputs:
            return StepOutput(loss.detach(), None, targets, None, skipped)
        logits = ctx.logits(returned)  # None: a model computing its own loss without logits
        return StepOutput(loss.detach(), None if logits is None else logits.detach(), targets,
                          map_tensors(returned, torch.Tensor.detach), skipped)

    def _update(self, loss: torch.Tensor) -> torch.Tensor | None:
        """backward, optimizer step, zero_grad. Under a GradScaler: whether it skipped the step, as a
        0-dim bool on the device (its scale fell: it lowers the scale exactly when it finds inf/NaN
        gradients and skips), compared there, so nothing waits for the device."""
        if self.scaler is None:
            loss.backward()
            if not self._reached:
                self._check_reached()
            self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)
            return None
        scaled = self.scaler.scale(loss)  # sets the scale up on the first step
        before = _scale(self.scaler).clone()
        scaled.backward()
        self._check_reached()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        return _scale(self.scaler) < before


def _scale(scaler) -> torch.Tensor:
    """The GradScaler's current scale as a tensor on the device, without a host sync (``get_scale()``
    would sync; a torch without the async accessor gets that, correct but synchronising)."""
    get = getattr(scaler, "_get_scale_async", None)
    scale = get() if get is not None else None
    return scale if isinstance(scale, torch.Tensor) else torch.tensor(float(scaler.get_scale()))


def kept_losses(losses: torch.Tensor, skipped: list) -> tuple[torch.Tensor, torch.Tensor | None]:
    """A chunk's losses (1-D, on the device) without the steps the GradScaler skipped, and the
    chunk's skipped mask (None without a scaler: the losses come back as they are). A skipped step
    whose loss is non-finite stays: the scaler skips it but cannot mend a forward that overflowed,
    and its loss is the divergence the checks report. Under torchrun a step counts as skipped when
    any rank skipped it. One host synchronisation (the mask's size), where the chunk is read anyway."""
    mask = skipped_mask(skipped)
    if mask is None:
        return losses, None
    keep = ~mask | ~torch.isfinite(losses)
    return losses[keep], mask


def skipped_mask(skipped: list) -> torch.Tensor | None:
    """A chunk's ``StepOutput.skipped`` as one bool tensor on the device (under torchrun: skipped on
    any rank); None without a scaler."""
    if not skipped or skipped[0] is None:
        return None
    from dlcheck import distributed

    return distributed.mean(torch.stack(skipped).float()) > 0


def skipped_note(skipped: int | None, run: int, what: str = "steps") -> str:
    """The summary's line for steps a GradScaler skipped ("" for none, or without a scaler)."""
    if not skipped:
        return ""
    if skipped >= run:
        return (f"; the GradScaler skipped all {run} {what} (inf/NaN fp16 gradients every time: no optimizer "
                f"step was taken)")
    return (f"; the GradScaler skipped {skipped} of {run} {what} (inf/NaN fp16 gradients, no optimizer step: "
            f"left out of the curve)")


def _check_unused_on_ranks(trainer: "Trainer", batch, index: int) -> None:
    """Under torchrun, before the first step trained in DDP: which parameters the loss reaches on
    each rank, all-gathered (a probe forward through the unwrapped module with
    ``torch.autograd.grad``, which fires none of DDP's hooks; buffers and RNG restored, so the
    training that follows is unchanged). Parameters without a gradient on some ranks (or on every
    rank: DDP needs each parameter in each step unless ``find_unused_parameters``): DLC015."""
    from torch.nn.parallel import DistributedDataParallel

    from dlcheck import distributed
    from dlcheck.state import preserve_rng

    model = trainer.model
    if not (distributed.active() and isinstance(model, DistributedDataParallel)) \
            or getattr(model, "find_unused_parameters", False):
        return
    module = model.module
    named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
    if not named:
        return
    buffers = {n: b.detach().clone() for n, b in module.named_buffers()}
    try:
        with preserve_rng(), trainer._autocast():
            outputs, targets = trainer.ctx.forward(module, batch, index)
            loss = trainer.ctx.loss(outputs, targets)
            if isinstance(loss, torch.Tensor) and loss.requires_grad and loss.dim() == 0:
                grads = torch.autograd.grad(loss, [p for _, p in named], allow_unused=True)
                reached = [1.0 if g is not None else 0.0 for g in grads]
            else:
                reached = [1.0] * len(named)  # the step's own checks say what is wrong
    finally:
        with torch.no_grad():
            for n, b in module.named_buffers():
                if n in buffers:
                    b.copy_(buffers[n])
    per_rank = distributed.gather_floats(reached)
    if all(all(v > 0 for v in r) for r in per_rank):
        return
    world = len(per_rank)
    missing = {}  # parameter -> the ranks where it got no gradient
    for r, row in enumerate(per_rank):
        for (name, _), v in zip(named, row):
            if v == 0:
                missing.setdefault(name, []).append(r)
    some = {n: rs for n, rs in missing.items() if len(rs) < world}
    if some:
        parts = [f"{n} (no gradient on rank {listing(rs)})" for n, rs in list(some.items())[:6]]
        more = f" and {len(some) - 6} more" if len(some) > 6 else ""
        raise SetupFailure("DLC015", f"{len(some)} parameter(s) get a gradient on some ranks but not "
                                     f"on others in the first step: {', '.join(parts)}{more}; the "
                                     f"forward takes another path on those ranks' data, and "
                                     f"DistributedDataParallel stops with its unused-parameter error "
                                     f"(find_unused_parameters) or hangs")
    names = list(missing)
    raise SetupFailure("DLC015", f"{len(names)} parameter(s) get no gradient on any of the {world} "
                                 f"ranks: {listing(names[:6])}{' ...' if len(names) > 6 else ''}; "
                                 f"DistributedDataParallel without find_unused_parameters=True stops "
                                 f"with its unused-parameter error in the next step")


def _ddp_unused(exc: Exception) -> str:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return (f"DistributedDataParallel stopped: some parameters got no gradient on this rank in the "
            f"last step ({first[:160]}): the forward took a branch on some ranks' data that leaves "
            f"parameters out")


def chunk_losses(losses: list[torch.Tensor]) -> torch.Tensor:
    """A chunk of per-step losses as one 1-D tensor on the device; under torchrun the global mean
    over ranks (one all-reduce per chunk, where the host syncs anyway), so that every stop and
    verdict read from it is the same on every rank."""
    from dlcheck import distributed

    return distributed.mean(torch.stack(losses).float())  # stack promotes mixed dtypes exactly


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
