"""batch-independence's measuring: per batch, a few samples spread over it are backpropagated one
at a time and the gradient on every sample of the input is measured (into :class:`Measured`);
where samples leak, :mod:`.trace` finds where the mixing starts.

The model's ``training`` flags and ``requires_grad`` are set back in ``finally`` (parameters need
no gradient here), hooks are removed there too, and ``ctx.model()`` restores a model object.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from torch import nn

from dlcheck.context import Context
from dlcheck.modules import unwrap
from dlcheck.state import Hooks

from .trace import _RNN, _batch_dim, _Leaf, _leak, _per_sample, _Trace


@dataclass
class Batch:
    """What one batch gave: per examined sample the gradient norm on every sample, and the place
    where the mixing starts (when it does)."""

    index: int
    size: int
    samples: list[int] = field(default_factory=list)
    norms: list[list[float]] = field(default_factory=list)  # [examined][sample]
    where: dict | None = None
    unmeasured: str | None = None
    through: str = "inputs"
    #: the shape of an input tensor whose first two axes are both the batch (size, size, ...): the
    #: batch relates its samples to each other (a graph's adjacency over the batch), so mixing
    #: through it may be the point; None when no input has that shape
    relations: tuple[int, ...] | None = None


@dataclass
class Measured:
    """What batch-independence measured; the rules read only this."""

    batches: list[Batch]
    noise: float  # gradient norm on another sample / on the sample itself above this: mixing
    by_design: bool = False  # the target or the settings say the model mixes samples (mixes_samples)


def measure(ctx: Context) -> Measured:
    s = ctx.settings
    by_design = bool(s["mixes_samples"]) or bool(getattr(ctx.target, "mixes_samples", False))
    batches = ctx.batches(int(s["batches"]))
    measured = []
    with ctx.model() as handed:
        model, _ = unwrap(handed)  # hooks (where the mixing starts) do not fire inside a compiled graph
        with _eval_without_parameter_gradients(model), _rnn_backward_in_eval(model, ctx.device):
            for i, batch in enumerate(batches):
                measured.append(_measure(ctx, model, batch, i, int(s["samples"]), float(s["noise"])))
    return Measured(measured, float(s["noise"]), by_design)


@contextmanager
def _eval_without_parameter_gradients(model: nn.Module):
    """Eval mode, and no parameter gradients (only the inputs' are needed); put back in finally,
    also for a model a factory hands out (which ``ctx.model()`` does not snapshot)."""
    modes = [(m, m.training) for m in model.modules()]
    flags = [(p, p.requires_grad) for p in model.parameters()]
    try:
        model.eval()
        for p, _ in flags:
            p.requires_grad_(False)
        yield model
    finally:
        for m, mode in modes:
            m.training = mode
        for p, flag in flags:
            p.requires_grad_(flag)


@contextmanager
def _rnn_backward_in_eval(model: nn.Module, device: torch.device):
    """cuDNN runs an RNN's backward in training mode only; PyTorch's own kernels also in eval mode,
    so cuDNN is off for this check when the model has an RNN on CUDA (put back in finally)."""
    if device.type != "cuda" or not any(isinstance(m, _RNN) for m in model.modules()):
        yield
        return
    enabled = torch.backends.cudnn.enabled
    torch.backends.cudnn.enabled = False
    try:
        yield
    finally:
        torch.backends.cudnn.enabled = enabled


# -- measuring ---------------------------------------------------------------------------------
def _measure(ctx: Context, model: nn.Module, batch, index: int, samples: int, noise: float) -> Batch:
    primary, floats, ids = _inputs(ctx, batch, index)
    if primary is None:
        return Batch(index, 0, unmeasured="the batch holds no input tensor")
    size = int(primary.shape[0])
    if size < 2:
        return Batch(index, size, unmeasured="the batch holds one sample")
    relations = next((tuple(t.shape) for t in floats + ids if t.dim() >= 2 and t.shape[0] == t.shape[1] == size),
                     None)
    floats = [t for t in floats if t.shape[0] == size]
    ids = [t for t in ids if t.shape[0] == size]

    leaves, swapped = float_leaves(batch, floats)
    trace = _Trace(size)
    with Hooks() as hooks:
        trace.attach(model, hooks, ids, leaves)
        with torch.enable_grad():
            outputs, _ = ctx.forward(model, _replace(batch, swapped), index)
            logits = ctx.logits(outputs)
            embedded = len(leaves) - len(floats)  # leaves the embedding hooks added during the forward
            through = {(True, False): "inputs", (False, True): "embedding outputs",
                       (True, True): "inputs and embedding outputs"}.get((bool(floats), embedded > 0), "")
            measured = Batch(index, size, through=through, relations=relations)
            axis = _batch_dim(logits, size)
            measured.unmeasured = _unmeasurable(leaves, ids, logits, axis, size)
            if measured.unmeasured:
                return measured
            measured.samples = _spread(size, samples)
            measured.norms = _norms(logits, axis, leaves, measured.samples, size, ctx.seed)
            worst = _worst(measured, noise)
            if worst is not None:
                measured.where = trace.locate(worst, leaves, noise, ctx.seed)
    return measured


def _inputs(ctx: Context, batch, index: int):
    """The batch's primary input tensor (its first axis is the batch), its float tensors and its
    integer (token id) tensors, targets left out -- unless the targets are an input too: a causal
    LM's batch ``{"input_ids": ids, "labels": ids}`` holds one tensor under both keys."""
    excluded = set()
    primary = None
    if not ctx.target.own_step:
        inputs, targets = ctx.split(batch, index)
        shown = _tensors(inputs)
        if not any(t is targets for t in shown):
            excluded.add(id(targets))
        primary = next(iter(shown), None)
    tensors = [t for t in _tensors(batch) if id(t) not in excluded and t.dim() >= 1]
    floats = [t for t in tensors if t.is_floating_point() or t.is_complex()]
    ids = [t for t in tensors if not (t.is_floating_point() or t.is_complex()) and t.dtype != torch.bool]
    if primary is None or primary.dim() == 0:
        primary = (floats or ids or [None])[0]
    return primary, floats, ids


def _unmeasurable(leaves: list, ids: list, logits: torch.Tensor, axis: int | None, size: int) -> str | None:
    """Why the gradient cannot be taken (None when it can)."""
    if not leaves:
        return ("the inputs are integers (token ids) and no nn.Embedding reads them"
                if ids else "no float input tensor to take the gradient at")
    if axis is None:
        return f"the outputs of shape {tuple(logits.shape)} have no axis of the batch size {size}"
    if not logits.requires_grad or not logits.is_floating_point():
        return "no gradient reaches the outputs from the inputs"
    return None


def _norms(logits: torch.Tensor, axis: int, leaves: list, samples: list[int], size: int, seed: int):
    """Per examined sample, the gradient norm of its projected output on every sample."""
    generator = torch.Generator().manual_seed(seed)
    projection = torch.randn(logits.select(axis, 0).shape, generator=generator).to(logits.device, logits.dtype)
    rows = []
    for sample in samples:
        objective = (logits.select(axis, sample) * projection).sum()
        grads = torch.autograd.grad(objective, [leaf.tensor for leaf in leaves],
                                    allow_unused=True, retain_graph=True)
        rows.append(_per_sample(grads, [leaf.batch_dim for leaf in leaves], size, logits.device))
    norms = torch.stack(rows).cpu()  # one host transfer: (examined, batch)
    return norms.tolist()


def _tensors(obj):
    """The tensors inside a batch (tuples, lists, dicts), in order, each once."""
    seen = set()
    stack = [obj]
    out = []
    while stack:
        item = stack.pop(0)
        if isinstance(item, torch.Tensor):
            if id(item) not in seen:
                seen.add(id(item))
                out.append(item)
        elif isinstance(item, Mapping):
            stack[:0] = list(item.values())
        elif isinstance(item, (tuple, list)):
            stack[:0] = list(item)
    return out


def _replace(obj, swapped: dict):
    """The batch with some tensors swapped for others (by identity), its structure kept."""
    if isinstance(obj, torch.Tensor):
        return swapped.get(id(obj), obj)
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):  # namedtuple
        return type(obj)(*(_replace(o, swapped) for o in obj))
    if isinstance(obj, (tuple, list)):
        return type(obj)(_replace(o, swapped) for o in obj)
    if isinstance(obj, Mapping):
        values = {k: _replace(v, swapped) for k, v in obj.items()}
        try:
            return type(obj)(values)
        except TypeError:
            return values
    return obj


def float_leaves(batch, floats: list[torch.Tensor]) -> tuple[list[_Leaf], dict[int, torch.Tensor]]:
    """A leaf to differentiate at for each float input (its batch axis first), and the copies the
    model gets in their place (a model may change its input in place), by the input's id."""
    leaves, swapped = [], {}
    for t in floats:
        leaf = t.detach().clone().requires_grad_(True)
        leaves.append(_Leaf(_input_label(batch, t), leaf, 0))
        swapped[id(t)] = leaf.clone()
    return leaves, swapped


def _input_label(batch, tensor: torch.Tensor) -> str:
    if isinstance(batch, Mapping):
        for key, value in batch.items():
            if value is tensor:
                return f"input '{key}'"
    return "the input"


def _spread(size: int, samples: int) -> list[int]:
    """``samples`` sample indices spread over the batch, the first and the last among them (an
    RNN run along the batch leaks only into later samples)."""
    k = max(1, min(samples, size))
    if k == 1:
        return [size - 1]
    return sorted({round(j * (size - 1) / (k - 1)) for j in range(k)})



def _worst(measured: Batch, noise: float) -> int | None:
    """The examined sample that leaks most (None when none leaks)."""
    best, worst = noise, None
    for sample, row in zip(measured.samples, measured.norms):
        leak = _leak(row, sample)
        if math.isfinite(leak) and leak > best or leak == float("inf"):
            best, worst = leak, sample
            if leak == float("inf"):
                break
    return worst
