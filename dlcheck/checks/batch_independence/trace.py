"""batch-independence: where the mixing starts. Forward hooks record the input and output tensor
of every leaf module in execution order; for the sample that leaks most, the first tensor whose
slice of that sample gets gradient from other samples' inputs, and the last one before it that
does not, say where: inside a module (an LSTM without ``batch_first=True``) or between two
modules (a ``view`` that should have been a ``permute``)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import nn

from dlcheck.state import Hooks

_RNN = nn.RNNBase
_ATTENTION = nn.MultiheadAttention


@dataclass
class _Leaf:
    """A tensor the gradient is taken at: an input of the batch, or an embedding's output."""

    label: str
    tensor: torch.Tensor
    batch_dim: int


def _per_sample(grads, batch_dims: list[int], size: int, device: torch.device) -> torch.Tensor:
    """The gradient's L2 norm on each sample, over every leaf (on the device)."""
    total = None
    for grad, dim in zip(grads, batch_dims):
        if grad is None:
            continue
        g = grad.detach().movedim(dim, 0).reshape(size, -1).float()
        squares = g.square().sum(dim=1)
        total = squares if total is None else total + squares
    if total is None:
        return torch.zeros(size, device=device)
    return total.sqrt()


def _leak(row: list[float], sample: int) -> float:
    """The largest gradient norm on another sample over the one on the sample itself."""
    own = row[sample]
    other = max((v for j, v in enumerate(row) if j != sample), default=0.0)
    if not (math.isfinite(own) and math.isfinite(other)):
        return float("nan")
    if own == 0:
        return float("inf") if other > 0 else float("nan")
    return other / own



class _Trace:
    """Forward hooks: the input and output tensor of every leaf module in execution order (kept for
    this one batch only, for :meth:`locate`; the graph holds them anyway), and the outputs of the
    embeddings that read the batch's token ids, swapped for leaves to differentiate at."""

    def __init__(self, size: int):
        self.size = size
        self.points: list[tuple[str, str, str, torch.Tensor]] = []  # (module, kind, type name, tensor)

    def attach(self, model: nn.Module, hooks: Hooks, ids: list[torch.Tensor], leaves: list[_Leaf]) -> None:
        for name, module in model.named_modules():
            name = f"'{name}'" if name else "the model"  # as messages show it
            if isinstance(module, (nn.Embedding, nn.EmbeddingBag)) and ids:
                hooks.add(module.register_forward_hook(self._embedding(name, ids, leaves)))
            elif next(module.children(), None) is None or isinstance(module, (_ATTENTION, _RNN)):
                hooks.add(module.register_forward_pre_hook(self._input(name, module), with_kwargs=True))
                hooks.add(module.register_forward_hook(self._output(name, module)))

    def _embedding(self, name, ids, leaves):
        def hook(module, args, output):
            read = args[0] if args else None
            if not isinstance(read, torch.Tensor) or not isinstance(output, torch.Tensor):
                return None
            dim = _reads_ids(read, ids)
            if dim is None:  # positions or other indices that are not the batch's
                return None
            leaf = output.detach().requires_grad_(True)
            leaves.append(_Leaf(f"the output of embedding {name}", leaf, dim))
            self.points.append((name, "output", type(module).__name__, leaf))
            return leaf
        return hook

    def _input(self, name, module):
        def hook(mod, args, kwargs):
            tensor = _first_float(args) if args else None
            if tensor is None:
                tensor = _first_float(list(kwargs.values()))
            if tensor is not None:
                self.points.append((name, "input", type(module).__name__, tensor))
        return hook

    def _output(self, name, module):
        def hook(mod, args, output):
            tensor = _first_float(output)
            if tensor is not None:
                self.points.append((name, "output", type(module).__name__, tensor))
        return hook

    def locate(self, sample: int, leaves: list[_Leaf], noise: float, seed: int) -> dict:
        """Where ``sample`` starts to depend on other samples: the first point in execution order
        whose slice of that sample has a gradient on other samples' inputs, and the last point
        before it that has none. Only run when the outputs mix, one backward per point up to there."""
        dims = {id(leaf.tensor): leaf.batch_dim for leaf in leaves}
        embedded = {id(t) for _, _, _, t in self.points if id(t) in dims}
        points = [("", "input", "", leaf.tensor, leaf.batch_dim, leaf.label) for leaf in leaves
                  if id(leaf.tensor) not in embedded]  # the batch's own inputs come first
        for name, kind, kind_name, tensor in self.points:  # one tensor may be A's output and B's input
            dim = dims[id(tensor)] if id(tensor) in dims else _batch_dim(tensor, self.size)
            if tensor.requires_grad and dim is not None:
                points.append((name, kind, kind_name, tensor, dim, f"the {kind} of {name}"))
        generator = torch.Generator().manual_seed(seed)
        inputs = [leaf.tensor for leaf in leaves]
        leaks: dict[int, float] = {id(t): 0.0 for t in inputs}  # an input depends on itself alone
        clean = None  # the last point seen that depends on its own sample alone
        for point in points:
            name, kind, kind_name, tensor, dim, label = point
            if id(tensor) not in leaks:
                part = tensor.select(dim, sample)
                weights = torch.randn(part.shape, generator=generator).to(part.device, part.dtype)
                grads = torch.autograd.grad((part * weights).sum(), inputs, allow_unused=True, retain_graph=True)
                norms = _per_sample(grads, [leaf.batch_dim for leaf in leaves], self.size, part.device)
                leaks[id(tensor)] = _leak(norms.cpu().tolist(), sample)
            leak = leaks[id(tensor)]
            if math.isnan(leak):  # no gradient from this sample's slice: says nothing
                continue
            if leak > noise:
                found = {"sample": sample, "after": clean[5] if clean else None, "before": label}
                if clean and clean[1] == "input" and kind == "output" and clean[0] == name:
                    found.update(module=name, type=kind_name)
                return found
            clean = point
        return {"sample": sample, "after": clean[5] if clean else None, "before": None}


def _reads_ids(read: torch.Tensor, ids: list[torch.Tensor]) -> int | None:
    """The batch axis of an embedding's output when its input is one of the batch's id tensors
    (as given, or with the first two axes swapped for a sequence-first model); else None."""
    for t in ids:
        if read is t or (read.shape == t.shape and torch.equal(read, t.to(read.dtype))):
            return 0
        if t.dim() >= 2:
            swapped = t.transpose(0, 1)
            if read.shape == swapped.shape and torch.equal(read, swapped.to(read.dtype)):
                return 1
    return None


def _first_float(obj) -> torch.Tensor | None:
    if isinstance(obj, torch.Tensor):
        return obj if obj.is_floating_point() else None
    if isinstance(obj, (tuple, list)):
        for item in obj:
            found = _first_float(item)
            if found is not None:
                return found
    if isinstance(obj, Mapping):
        return _first_float(list(obj.values()))
    return None


def _batch_dim(tensor: torch.Tensor, size: int) -> int | None:
    """A tensor's sample axis: the first when it has the batch size, else the only one that has
    (sequence-first layers); None when no axis, or more than one besides the first, has it."""
    if tensor.dim() == 0:
        return None
    if tensor.shape[0] == size:
        return 0
    axes = [d for d, n in enumerate(tensor.shape) if n == size]
    return axes[0] if len(axes) == 1 else None
