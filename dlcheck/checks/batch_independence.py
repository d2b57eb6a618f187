"""Batch independence (Karpathy's recipe): one sample's output depends on that sample's input alone.

In eval mode (normalisation layers use their running statistics, dropout is off) an honest model
computes every sample on its own, so the gradient of one sample's output with respect to the
whole input batch is zero outside that sample, exactly. A few samples spread over the batch
(the first, the last, some between) are backpropagated one at a time, through a fixed random
projection of their output (a plain sum can vanish, e.g. after a softmax), and the gradient on
every sample of the input is measured. Float inputs get the gradient themselves; token ids
(integer inputs) get it at the output of the ``nn.Embedding`` that reads them.

Where samples leak into each other, the input and output tensor of every leaf module (recorded by
forward hooks, in execution order) is asked the same question for the sample that leaks most:
does its slice of that sample get gradient from other samples' inputs? The first tensor that does,
and the last one before it that does not, say where the mixing starts: inside a module (an LSTM
without ``batch_first=True``) or between two modules (a ``view`` that should have been a
``permute``). A tensor's sample axis is its first when that has the batch size, else the only
axis that has (sequence-first layers); tensors where that is ambiguous are passed over.

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
from dlcheck.results import CheckResult, listing, rounded
from dlcheck.state import Hooks

NAME = "batch-independence"
SETTINGS = {
    "batches": 1,  # batches examined
    "samples": 4,  # samples per batch whose output is backpropagated, spread over the batch
    "noise": 1e-6,  # gradient norm on another sample / on the sample itself above this: mixing (DLC801)
    "mixes_samples": False,  # the model mixes samples by design: report, do not judge (DLC802)
}

_RNN = nn.RNNBase
_ATTENTION = nn.MultiheadAttention


@dataclass
class _Leaf:
    """A tensor the gradient is taken at: an input of the batch, or an embedding's output."""

    label: str
    tensor: torch.Tensor
    batch_dim: int


@dataclass
class _Batch:
    """What one batch gave: per examined sample the gradient norm on every sample, and the place
    where the mixing starts (when it does)."""

    index: int
    size: int
    samples: list[int] = field(default_factory=list)
    norms: list[list[float]] = field(default_factory=list)  # [examined][sample]
    where: dict | None = None
    unmeasured: str | None = None
    through: str = "inputs"


def run(ctx: Context) -> CheckResult:
    s = ctx.settings
    result = ctx.result
    by_design = bool(s["mixes_samples"]) or bool(getattr(ctx.target, "mixes_samples", False))
    batches = ctx.batches(int(s["batches"]))
    measured = []
    with ctx.model() as model, _eval_without_parameter_gradients(model), _rnn_backward_in_eval(model, ctx.device):
        for i, batch in enumerate(batches):
            measured.append(_measure(ctx, model, batch, i, int(s["samples"]), float(s["noise"])))
    _report(result, measured, float(s["noise"]), by_design)
    return result


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
def _measure(ctx: Context, model: nn.Module, batch, index: int, samples: int, noise: float) -> _Batch:
    excluded = set()
    primary = None
    if ctx.target.forward is None:
        inputs, targets = ctx.split(batch, index)
        excluded.add(id(targets))
        primary = next(iter(_tensors(inputs)), None)
    tensors = [t for t in _tensors(batch) if id(t) not in excluded and t.dim() >= 1]
    floats = [t for t in tensors if t.is_floating_point() or t.is_complex()]
    ids = [t for t in tensors if not (t.is_floating_point() or t.is_complex()) and t.dtype != torch.bool]
    if primary is None or primary.dim() == 0:
        primary = (floats or ids or [None])[0]
    if primary is None:
        return _Batch(index, 0, unmeasured="the batch holds no input tensor")
    size = int(primary.shape[0])
    if size < 2:
        return _Batch(index, size, unmeasured="the batch holds one sample")
    floats = [t for t in floats if t.shape[0] == size]
    ids = [t for t in ids if t.shape[0] == size]

    leaves, swapped = [], {}
    for t in floats:  # a leaf to differentiate at; the model gets a copy it may change in place
        leaf = t.detach().clone().requires_grad_(True)
        leaves.append(_Leaf(_input_label(batch, t), leaf, 0))
        swapped[id(t)] = leaf.clone()
    trace = _Trace(size)
    with Hooks() as hooks:
        trace.attach(model, hooks, ids, leaves)
        with torch.enable_grad():
            outputs, _ = ctx.forward(model, _replace(batch, swapped), index)
            logits = ctx.logits(outputs)
            embedded = len(leaves) - len(floats)  # leaves the embedding hooks added during the forward
            through = {(True, False): "inputs", (False, True): "embedding outputs",
                       (True, True): "inputs and embedding outputs"}.get((bool(floats), embedded > 0), "")
            measured = _Batch(index, size, through=through)
            axis = _batch_dim(logits, size)
            if not leaves:
                measured.unmeasured = ("the inputs are integers (token ids) and no nn.Embedding reads them"
                                       if ids else "no float input tensor to take the gradient at")
                return measured
            if axis is None:
                measured.unmeasured = (f"the outputs of shape {tuple(logits.shape)} have no axis of the batch "
                                       f"size {size}")
                return measured
            if not logits.requires_grad or not logits.is_floating_point():
                measured.unmeasured = "no gradient reaches the outputs from the inputs"
                return measured
            measured.samples = _spread(size, samples)
            generator = torch.Generator().manual_seed(ctx.seed)
            projection = torch.randn(logits.select(axis, 0).shape, generator=generator).to(logits.device, logits.dtype)
            rows = []
            for sample in measured.samples:
                objective = (logits.select(axis, sample) * projection).sum()
                grads = torch.autograd.grad(objective, [leaf.tensor for leaf in leaves],
                                            allow_unused=True, retain_graph=True)
                rows.append(_per_sample(grads, [leaf.batch_dim for leaf in leaves], size, logits.device))
            norms = torch.stack(rows).cpu()  # one host transfer: (examined, batch)
            measured.norms = norms.tolist()
            worst = _worst(measured, noise)
            if worst is not None:
                measured.where = trace.locate(worst, leaves, noise, ctx.seed)
    return measured


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


def _worst(measured: _Batch, noise: float) -> int | None:
    """The examined sample that leaks most (None when none leaks)."""
    best, worst = noise, None
    for sample, row in zip(measured.samples, measured.norms):
        leak = _leak(row, sample)
        if math.isfinite(leak) and leak > best or leak == float("inf"):
            best, worst = leak, sample
            if leak == float("inf"):
                break
    return worst


# -- where the mixing starts -------------------------------------------------------------------
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


# -- judging -----------------------------------------------------------------------------------
def _report(result: CheckResult, measured: list[_Batch], noise: float, by_design: bool) -> None:
    rows, mixed, worst = [], [], 0.0
    for m in measured:
        for sample, row in zip(m.samples, m.norms):
            leak = _leak(row, sample)
            if math.isnan(leak):  # no gradient on the sample itself nor on others, or not finite
                continue
            others = [j for j, v in enumerate(row) if j != sample and v > 0 and v > noise * row[sample]]
            if leak > noise:
                mixed.append((m, sample, others, leak))
            worst = max(worst, leak)
            rows.append({"batch": m.index, "sample": sample, "own_gradient": rounded(row[sample], 4),
                         "largest_other": rounded(max(v for j, v in enumerate(row) if j != sample), 4),
                         "leak_ratio": rounded(leak, 4), "depends_on": len(others),
                         "other_samples": _ranges(others) or "-"})
    examined = len(rows)
    result.metrics.update({"batches": len(measured), "batch_size": measured[0].size if measured else 0,
                           "samples_examined": examined, "samples_mixed": len(mixed),
                           "max_leak_ratio": rounded(worst, 4) if examined else None})
    done = [m for m in measured if not m.unmeasured]
    if done:
        result.metrics["gradient_at"] = done[0].through
    if rows:
        result.details["samples"] = rows

    unmeasured = [m for m in measured if m.unmeasured]
    if not examined:
        reason = unmeasured[0].unmeasured if unmeasured else "no gradient reaches the inputs from the outputs"
        result.summary = f"not measured: {reason}"
        result.add("DLC803", f"batch independence was not measured: {reason}")
        result.skip(reason)
        return
    if unmeasured:
        result.add("DLC803", f"batch {unmeasured[0].index} was not measured: {unmeasured[0].unmeasured}")
    if not mixed:
        result.summary = (f"{examined} samples' outputs each depend on their own input alone (gradient on "
                          f"other samples: {worst:.2g} of their own)")
        return
    m, sample, others, leak = max(mixed, key=lambda x: (x[3], len(x[2])))
    where = next((b.where for b in measured if b.where), None)
    place, advice = _where(where)
    of_batch = (lambda b: f" of batch {b.index}") if len(measured) > 1 else (lambda b: "")
    pairs = "; ".join(f"sample {s}{of_batch(b)} on {_count(o)}" for b, s, o, _ in mixed[:4])
    strength = ("some get no gradient from their own input at all" if leak == float("inf") else
                f"the largest gradient on another sample is {leak:.2g}x the one on their own input")
    message = (f"{len(mixed)} of {examined} samples examined depend on other samples' inputs ({pairs}; "
               f"{strength}){place}")
    result.summary = (f"samples mix across the batch: {len(mixed)} of {examined} examined depend on other "
                      f"samples{place}")
    if by_design:
        result.summary += " (by design: mixes_samples is set)"
        result.add("DLC802", message)
    else:
        result.add("DLC801", message, advice=advice)
    if where:
        result.metrics["mixing_starts"] = place.removeprefix("; the mixing starts ")


def _where(where: dict | None) -> tuple[str, str]:
    """`` ; it starts in 'lstm' (LSTM)`` and the advice for that place."""
    from dlcheck.codes import CODES

    default = CODES["DLC801"].fix
    if not where:
        return "", default
    if where.get("module"):
        kind = where["type"]
        module = where["module"]
        place = f"; the mixing starts in {module} ({kind})"
        if kind in ("LSTM", "GRU", "RNN"):
            advice = (f"{module} reads axis 0 of its input as time, so it runs along the batch: "
                      f"pass batch_first=True to the {kind}, or feed it (time, batch, features)")
        elif kind == "MultiheadAttention":
            advice = (f"{module} attends along axis 0 of its input, here the batch: pass "
                      f"batch_first=True to it (or to the Transformer layer holding it), or feed it "
                      f"(sequence, batch, features)")
        elif "BatchNorm" in kind:
            advice = (f"{module} normalises with the batch's own statistics in eval mode "
                      f"(track_running_stats=False): keep track_running_stats=True, or use "
                      f"LayerNorm / GroupNorm")
        else:
            advice = f"look at how {module} treats the batch axis; {default}"
        return place, advice
    if where.get("before"):
        place = (f"; the mixing starts between {where['after']} and {where['before']}" if where.get("after")
                 else f"; the mixing starts before {where['before']}")
        advice = ("a view/reshape/flatten between them moves values across samples: swap axes with "
                  "permute/transpose (not view/reshape), and keep the batch axis where the next layer "
                  "expects it")
        return place, advice
    if not where.get("after"):
        return "", default
    return (f"; the mixing starts after {where['after']} (in the forward after its last module)",
            "the forward mixes samples after its last module (a reduction, normalisation or reshape "
            "over the batch axis?); keep every operation per sample")


def _count(others: list[int]) -> str:
    if not others:
        return "other samples"
    return f"{len(others)} other{'s' if len(others) > 1 else ''} ({_ranges(others)})"


def _ranges(indices: list[int], shown: int = 4) -> str:
    """``0-62, 64`` for sorted sample indices."""
    spans = []
    for i in indices:
        if spans and i == spans[-1][1] + 1:
            spans[-1][1] = i
        else:
            spans.append([i, i])
    return listing([f"{a}-{b}" if b > a else f"{a}" for a, b in spans], shown)
