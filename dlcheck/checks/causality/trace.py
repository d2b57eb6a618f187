"""causality: how far the future leaks, and where the mixing across time starts. batch-independence's
trace (forward hooks recording the input and output tensor of every leaf module, attention and RNN
in execution order) is asked the time-axis question: for the examined position that leaks most,
the first tensor whose slice at that position gets gradient from later input positions, and the
last one before it that does not, say where: inside a module (attention without its causal mask,
a bidirectional RNN) or between two modules (hand-written attention without its mask)."""

from __future__ import annotations

import math

import torch

from dlcheck.checks.batch_independence.trace import _batch_dim, _Leaf, _per_sample, _Trace


def leak(row: list[float], t: int) -> float:
    """The largest gradient norm on an input position after ``t`` over the largest on the positions
    up to ``t`` (inf when only the future gets gradient, nan when nothing does or not finite)."""
    past = max(row[:t + 1], default=0.0)
    future = max(row[t + 1:], default=0.0)
    if not (math.isfinite(past) and math.isfinite(future)):
        return float("nan")
    if past == 0:
        return float("inf") if future > 0 else float("nan")
    return future / past


def leaking(row: list[float], t: int, noise: float) -> list[int]:
    """The input positions after ``t`` whose gradient is above the noise (relative to the past's)."""
    past = max(row[:t + 1], default=0.0)
    return [s for s in range(t + 1, len(row)) if row[s] > 0 and row[s] > noise * past]


def future_leak(positions: list[int], norms: list[list[float]], noise: float) -> int | None:
    """The examined position that leaks most into the future (None when none does)."""
    best, worst = noise, None
    for t, row in zip(positions, norms):
        ratio = leak(row, t)
        if ratio == float("inf") or (math.isfinite(ratio) and ratio > best):
            best, worst = ratio, t
            if ratio == float("inf"):
                break
    return worst


def locate(trace: _Trace, t: int, leaves: list[_Leaf], length: int, noise: float, seed: int) -> dict:
    """Where the output at ``t`` starts to depend on later input positions: the first point in
    execution order whose slice at ``t`` has a gradient on later positions, and the last point
    before it that has none. Only run when the outputs leak, one backward per point up to there."""
    leaf_ids = {id(leaf.tensor) for leaf in leaves}
    dims = [1 if leaf.batch_dim == 0 else 0 for leaf in leaves]
    inputs = [leaf.tensor for leaf in leaves]
    points = [("", "input", "", leaf.tensor, leaf.label) for leaf in leaves]
    points += [(name, kind, type_name, tensor, f"the {kind} of {name}") for name, kind, type_name, tensor
               in trace.points if id(tensor) not in leaf_ids and tensor.requires_grad]
    generator = torch.Generator().manual_seed(seed)
    clean = None  # the last point seen whose slice at t depends on positions up to t alone
    for point in points:
        name, kind, type_name, tensor, label = point
        if id(tensor) in leaf_ids:
            clean = point  # an input depends on itself alone
            continue
        time = _time_axis(tensor, trace.size, length)
        if time is None:
            continue
        part = tensor.select(time, t)
        weights = torch.randn(part.shape, generator=generator).to(part.device, part.dtype)
        grads = torch.autograd.grad((part * weights).sum(), inputs, allow_unused=True, retain_graph=True)
        ratio = leak(_per_sample(grads, dims, length, part.device).cpu().tolist(), t)
        if math.isnan(ratio):  # no gradient from this slice: says nothing
            continue
        if ratio > noise:
            found = {"position": t, "after": clean[4] if clean else None, "before": label}
            if clean and clean[1] == "input" and kind == "output" and clean[0] == name:
                found.update(module=name, type=type_name)
            return found
        clean = point
    return {"position": t, "after": clean[4] if clean else None, "before": None}


def _time_axis(tensor: torch.Tensor, size: int, length: int) -> int | None:
    """A recorded tensor's time axis: the one after its batch axis when it has ``length`` positions,
    else the only other axis that has; None when there is none or the batch axis is unknown."""
    batch = _batch_dim(tensor, size)
    if batch is None or tensor.dim() < 2:
        return None
    rest = [d for d in range(tensor.dim()) if d != batch and tensor.shape[d] == length]
    if (batch + 1) in rest:
        return batch + 1
    return rest[0] if len(rest) == 1 else None
