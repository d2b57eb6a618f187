"""causality's measuring: whether the model is causal (declared, or by its task), then, on one
batch in eval mode, the output at a few positions t backpropagated one at a time through a fixed
random projection, and the gradient norm on every input position measured (into :class:`Measured`);
where the future leaks, :mod:`.trace` finds where the mixing across time starts.

batch-independence's machinery is reused as it is: the leaves to differentiate at (the inputs, or
the outputs of the ``nn.Embedding`` that reads the token ids), eval mode without parameter
gradients, cuDNN off for RNNs on CUDA; everything is put back in ``finally``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from dlcheck.checks.batch_independence.measure import (_eval_without_parameter_gradients, _inputs, float_leaves,
                                                      _replace, _rnn_backward_in_eval, _tensors)
from dlcheck.checks.batch_independence.trace import _batch_dim, _Leaf, _per_sample, _Trace
from dlcheck.context import Context
from dlcheck.modules import unwrap
from dlcheck.state import Hooks

from .trace import future_leak, locate


@dataclass
class Measured:
    """What causality measured; the rules read only this."""

    noise: float  # gradient norm on a later position / on the positions up to t above this: a leak
    causal: str | None = None  # why the model is taken as causal (None: it is not, see skipped)
    skipped: str | None = None  # why causality is not judged for this model
    length: int = 0  # input positions T
    positions: list[int] = field(default_factory=list)  # the output positions examined
    norms: list[list[float]] = field(default_factory=list)  # [examined][input position]
    where: dict | None = None  # where the mixing across time starts (when it does)
    unmeasured: str | None = None
    through: str = "inputs"


def measure(ctx: Context) -> Measured:
    s = ctx.settings
    m = Measured(float(s["noise"]))
    batch = ctx.batches(1)[0]
    with ctx.model() as handed:
        model, _ = unwrap(handed)  # hooks (where the mixing starts) do not fire inside a compiled graph
        m.causal, m.skipped = causal(ctx, model, batch)
        if m.causal is None:
            return m
        with _eval_without_parameter_gradients(model), _rnn_backward_in_eval(model, ctx.device):
            _measure(ctx, model, batch, m, int(s["positions"]))
    return m


# -- is the model causal? -----------------------------------------------------------------------
def causal(ctx: Context, model: nn.Module, batch) -> tuple[str | None, str | None]:
    """``(why the model is causal, None)`` or ``(None, why it is not judged)``."""
    declared = getattr(ctx.target, "causal", None)
    if declared is not None and not declared:
        return None, "causal = False in the target: the model may look ahead by design"
    if declared:
        return "causal = True in the target", None
    config, kind = getattr(model, "config", None), type(model).__name__
    if getattr(config, "is_decoder", False) is True:
        return f"the Hugging Face config of {kind} says is_decoder", None
    if kind.endswith(("ForCausalLM", "LMHeadModel")):
        return f"{kind} is a causal language model", None
    if ctx.task.shift:
        return "the model's own loss is a causal language model's (its logits at t predict the label at t + 1)", None
    if _shifted_targets(ctx, batch):
        return "the targets are the inputs shifted by one position (next-token prediction)", None
    if getattr(config, "is_encoder_decoder", False) is True:
        return None, (f"{kind} is an encoder-decoder (its config says is_encoder_decoder): every output may see "
                      f"every position of the input its encoder reads")
    if config is not None and hasattr(config, "is_decoder"):
        return None, (f"{kind} is a bidirectional encoder (its config says is_decoder = False): every output "
                      f"may see every position")
    return None, ("nothing says the model is causal (no causal = True in the target, no causal language "
                  "model's loss, targets not the inputs shifted by one): its outputs may see every position")


def _shifted_targets(ctx: Context, batch) -> bool:
    """The targets are the token ids shifted by one: targets[:, t] == inputs[:, t + 1] wherever
    the target is not ignored (next-token prediction)."""
    try:  # a target's own forward reads the batch itself, but a (ids, targets) batch still splits
        inputs, targets = ctx.split(batch, 0)
    except Exception:  # noqa: BLE001 - a batch dlcheck cannot split says nothing here
        return False
    ids = next((t for t in _tensors(inputs) if t.dim() == 2 and not t.is_floating_point()), None)
    if ids is None or not isinstance(targets, torch.Tensor) or targets.shape != ids.shape or ids.shape[1] < 2:
        return False
    if targets.is_floating_point():
        return False
    later, shown = targets[:, :-1], ids[:, 1:].to(targets.device)
    kept = later != ctx.task.ignore_index
    return bool(kept.any()) and bool((later[kept] == shown[kept]).all())


# -- measuring ---------------------------------------------------------------------------------
def _measure(ctx: Context, model: nn.Module, batch, m: Measured, positions: int) -> None:
    primary, floats, ids = _inputs(ctx, batch, 0)
    if primary is None or primary.dim() < 2:
        m.unmeasured = "the batch holds no input with a time axis (batch, time, ...)"
        return
    size, m.length = int(primary.shape[0]), int(primary.shape[1])
    floats = [t for t in floats if t.dim() >= 3 and t.shape[:2] == primary.shape[:2]]
    ids = [t for t in ids if t.shape[0] == size]
    leaves, swapped = float_leaves(batch, floats)
    trace = _Trace(size)
    with Hooks() as hooks:
        trace.attach(model, hooks, ids, leaves)
        with torch.enable_grad():
            outputs, _ = ctx.forward(model, _replace(batch, swapped), 0)
            logits = _timed(_raw_logits(ctx, outputs), size, m.length)
            leaves = [leaf for leaf in leaves if _time_dim(leaf, m.length) is not None]
            embedded = {leaf.label.startswith("the output of embedding") for leaf in leaves}
            m.through = {frozenset({True}): "embedding outputs", frozenset({False}): "inputs"}.get(
                frozenset(embedded), "inputs and embedding outputs")
            m.unmeasured = _unmeasurable(leaves, ids, logits, m.length)
            if m.unmeasured:
                return
            m.positions = _spread(m.length, positions)
            m.norms = _norms(logits, leaves, m.positions, m.length, ctx.seed)
            worst = future_leak(m.positions, m.norms, m.noise)
            if worst is not None:
                m.where = locate(trace, worst, leaves, m.length, m.noise, ctx.seed)


def _raw_logits(ctx: Context, outputs):
    """The model's logits as it returned them (positions where the model keeps them)."""
    from dlcheck import own_loss
    from dlcheck.batches import logits_of

    return own_loss.logits_or_none(outputs) if ctx.task.own_loss is not None else logits_of(outputs)


def _timed(logits, size: int, length: int):
    """The logits as (batch, time, ...), or None when they have no batch and time axes: a forward
    that flattened them to (batch * time, ...) is viewed back; sequence-first outputs are moved."""
    if not isinstance(logits, torch.Tensor) or logits.dim() < 2:
        return None
    if logits.shape[0] == size * length and size > 1:
        return logits.reshape(size, length, *logits.shape[1:])
    batch = _batch_dim(logits, size)
    if batch is None:
        return None
    rest = [d for d in range(logits.dim()) if d != batch and logits.shape[d] == length]
    if not rest:
        return None
    time = (batch + 1) if (batch + 1) in rest else rest[0]
    return logits.movedim((batch, time), (0, 1))


def _time_dim(leaf: _Leaf, length: int) -> int | None:
    """A leaf's time axis: the one next to its batch axis, when it has ``length`` positions."""
    dim = 1 if leaf.batch_dim == 0 else 0
    return dim if leaf.tensor.dim() > 1 and leaf.tensor.shape[dim] == length else None


def _unmeasurable(leaves: list, ids: list, logits, length: int) -> str | None:
    """Why the gradient cannot be taken (None when it can)."""
    if not leaves:
        return ("the inputs are integers (token ids) and no nn.Embedding reads them"
                if ids else "no float input tensor (batch, time, features) to take the gradient at")
    if logits is None:
        return f"the outputs have no batch axis and time axis of {length} positions"
    if not logits.requires_grad or not logits.is_floating_point():
        return "no gradient reaches the outputs from the inputs"
    if length < 2:
        return "the sequences have one position"
    return None


def _spread(length: int, positions: int) -> list[int]:
    """``positions`` output positions spread over 0 .. T - 2 (the last one has no future)."""
    last = length - 2
    k = max(1, min(positions, last + 1))
    if k == 1:
        return [0]
    return sorted({round(j * last / (k - 1)) for j in range(k)})


def _norms(logits: torch.Tensor, leaves: list, positions: list[int], length: int, seed: int):
    """Per examined output position, the gradient norm of its projected output (every sample's)
    on every input position."""
    generator = torch.Generator().manual_seed(seed)
    projection = torch.randn(logits[:, 0].shape, generator=generator).to(logits.device, logits.dtype)
    dims = [_time_dim(leaf, length) for leaf in leaves]
    rows = []
    for t in positions:
        grads = torch.autograd.grad((logits[:, t] * projection).sum(), [leaf.tensor for leaf in leaves],
                                    allow_unused=True, retain_graph=True)
        rows.append(_per_sample(grads, dims, length, logits.device))
    return torch.stack(rows).cpu().tolist()  # one host transfer: (examined, positions)
