"""preflight's precision part: will float16 / bfloat16 hold?

Per leaf module (execution order), the largest absolute output and output gradient on one batch
at init and again after ``precision_steps`` float32 training steps, against float16's range
(65504; smallest subnormal ~6e-8) and bfloat16's (3.4e38); for gradients, the share of nonzero
values that stay below fp16's smallest subnormal even multiplied by GradScaler's default scale
(``loss_scale``, 65536): those flush to zero in fp16 training as it is usually run. At both points
the same forward under ``torch.autocast`` (fp16 on CUDA, bf16 where supported; on the CPU bf16 and
fp16; same weights, same dropout masks): the loss gap to float32 and the first module whose output
goes non-finite. (Forwards, not autocast training: GradScaler's skipped first steps would make a
gap that is no precision loss.) Weights, buffers and RNG are put back; ``ctx.model()`` hands the model back.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from dlcheck.context import Context
from dlcheck.device import map_tensors
from dlcheck.errors import UserError
from dlcheck.modules import unwrap
from dlcheck.results import Finding, listing, rounded
from dlcheck.rules import finding
from dlcheck.state import Hooks, preserve_rng

Settings = Mapping[str, Any]
FP16_MAX = 65504.0
FP16_TINY = 2.0 ** -24  # float16's smallest subnormal, ~5.96e-8
BF16_MAX = float(torch.finfo(torch.bfloat16).max)

SETTINGS = {
    "precision_steps": 3,  # float32 (and autocast) training steps before the second look
    "loss_scale": 65536.0,  # the loss scale gradients are judged at (GradScaler's init_scale; 1: no scaling)
    "underflow_share": 0.5,  # a module's nonzero gradients below fp16's smallest subnormal at that scale above this share: DLC983
    "amp_loss_gap_max": 0.1,  # |autocast loss - float32 loss| / max(|float32 loss|, 0.1) above this: DLC984
}


@dataclass
class Layer:
    name: str
    kind: str
    act: list[float] = field(default_factory=lambda: [0.0, 0.0])  # largest |output|: at init, after steps
    grad: list[float] = field(default_factory=lambda: [0.0, 0.0])  # largest |output gradient|
    under: list[float] = field(default_factory=lambda: [0.0, 0.0])  # share of nonzero gradients lost in fp16 at the loss scale


@dataclass
class Run:
    """The autocast run of one dtype against float32."""

    dtype: str
    losses: list[float] = field(default_factory=list)
    gap: float = 0.0
    first_nonfinite: str | None = None
    error: str | None = None


@dataclass
class Measured:
    """What the precision part measured; its rules read only this."""

    device: str
    layers: list[Layer] = field(default_factory=list)  # execution order
    fp32: list[float] = field(default_factory=list)
    runs: list[Run] = field(default_factory=list)
    skipped: str | None = None

    def run(self, dtype: str) -> Run | None:
        return next((r for r in self.runs if r.dtype == dtype and r.error is None), None)


def measure(ctx: Context) -> Measured:
    m = Measured(device=ctx.device.type)
    steps = max(1, int(ctx.settings["precision_steps"]))
    with preserve_rng(), ctx.model() as handed:
        model, _ = unwrap(handed)
        batches = ctx.batches(min(steps, 2))
        layers = {name: Layer(name, type(mod).__name__) for name, mod in _leaves(model)}
        tiny = FP16_TINY / max(1.0, float(ctx.settings["loss_scale"]))
        order: list[str] = []  # execution order, as the first look saw it
        m.runs = [Run(str(d).removeprefix("torch.")) for d in _dtypes(ctx.device)]
        for when in (0, 1):  # at init, then after float32 training steps
            if when:
                _train(ctx, model, batches, steps)
            _look(ctx, model, batches[0], layers, when, order, tiny)
            m.fp32.append(_forward_loss(ctx, model, batches[0], None))
            for run in m.runs:
                _amp(ctx, model, batches[0], run)
    m.layers = [layers[n] for n in order if max(layers[n].act) > 0 or max(layers[n].grad) > 0]
    for run in m.runs:
        run.gap = _gap(run.losses, m.fp32) if run.error is None else 0.0
    return m


def _amp(ctx: Context, model, batch, run: Run) -> None:
    """The loss under autocast ``run.dtype`` on the current weights; the first non-finite module."""
    if run.error is not None:
        return
    try:
        with Hooks() as hooks:
            for name, mod in _leaves(model):
                hooks.add(mod.register_forward_hook(_nonfinite_hook(run, name)))
            run.losses.append(_forward_loss(ctx, model, batch, getattr(torch, run.dtype)))
    except (RuntimeError, NotImplementedError, UserError) as exc:  # an op without this dtype here
        cause = exc.__cause__ if isinstance(exc, UserError) and exc.__cause__ is not None else exc
        run.error = f"{type(cause).__name__}: {str(cause).splitlines()[0][:120]}"


def _forward_loss(ctx: Context, model, batch, dtype) -> float:
    """The loss of one forward (no gradient), seeded alike (dropout draws the same masks)."""
    torch.manual_seed(ctx.seed)
    with torch.no_grad(), torch.autocast(ctx.device.type, dtype=dtype, enabled=dtype is not None):
        outputs, targets = ctx.forward(model, batch)
        return float(ctx.loss(outputs, targets).detach().float())


def _leaves(model) -> list:
    leaves = [(n, mod) for n, mod in model.named_modules() if not any(True for _ in mod.children())]
    return leaves or [("model", model)]


def _dtypes(device: torch.device) -> list[torch.dtype]:
    if device.type == "cuda":
        return [torch.float16] + ([torch.bfloat16] if torch.cuda.is_bf16_supported() else [])
    return [torch.bfloat16, torch.float16]


def _tensors(output) -> list[torch.Tensor]:
    found = []
    map_tensors(output, lambda t: found.append(t) if t.is_floating_point() else None)
    return found


def _look(ctx: Context, model, batch, layers: dict[str, Layer], when: int, order: list[str], tiny: float) -> None:
    """One forward and backward (no step): the largest |output| and |output gradient| per module."""
    def forward_hook(name):
        def hook(_mod, _inp, output):
            layer = layers[name]
            if name not in order:
                order.append(name)
            for t in _tensors(output):
                layer.act[when] = max(layer.act[when], _finite_max(t))
                if t.requires_grad:
                    t.register_hook(grad_hook(layer))
        return hook

    def grad_hook(layer):
        def hook(g):
            g = g.detach().abs().float()
            layer.grad[when] = max(layer.grad[when], _finite_max(g))
            nonzero = int((g > 0).sum())
            if nonzero:
                layer.under[when] = max(layer.under[when], int(((g > 0) & (g < tiny)).sum()) / nonzero)
        return hook

    was = [(mod, mod.training) for mod in model.modules()]
    with Hooks() as hooks:
        for name, mod in _leaves(model):
            hooks.add(mod.register_forward_hook(forward_hook(name)))
        outputs, targets = ctx.forward(model, batch)
        loss = ctx.loss(outputs, targets)
        if loss.requires_grad:
            loss.backward()
    model.zero_grad(set_to_none=True)
    for mod, mode in was:
        mod.training = mode


def _finite_max(t: torch.Tensor) -> float:
    a = t.detach().abs()
    a = a[torch.isfinite(a)] if not bool(torch.isfinite(a).all()) else a
    return float(a.max()) if a.numel() else 0.0


def _train(ctx: Context, model, batches: list, steps: int) -> None:
    """``steps`` float32 training steps with the user's optimizer (the second look is after them)."""
    torch.manual_seed(ctx.seed)
    optimizer = ctx.optimizer(model.parameters())
    for i in range(steps):
        outputs, targets = ctx.forward(model, batches[i % len(batches)], i % len(batches))
        ctx.loss(outputs, targets).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)


def _nonfinite_hook(run: Run, name: str):
    def hook(_mod, _inp, output):
        if run.first_nonfinite is None and any(not bool(torch.isfinite(t).all()) for t in _tensors(output)):
            run.first_nonfinite = name
    return hook


def _gap(losses: list[float], fp32: list[float]) -> float:
    pairs = [(a, b) for a, b in zip(losses, fp32) if math.isfinite(b)]
    if not pairs:
        return 0.0
    return max(abs(a - b) / max(abs(b), 0.1) if math.isfinite(a) else math.inf for a, b in pairs)


# -- rules: one per finding code ------------------------------------------------------------------
def fp16_overflow(m: Measured, task, s: Settings) -> Finding | None:
    """DLC982: activations past 65504, or the fp16 autocast run non-finite; the first module named."""
    over = [l for l in m.layers if FP16_MAX < max(l.act) <= BF16_MAX]
    fp16 = next((r for r in m.runs if r.dtype == "float16" and r.error is None), None)
    broke = fp16 is not None and (fp16.first_nonfinite or not all(map(math.isfinite, fp16.losses)))
    if not over and not broke:
        return None
    parts = []
    if over:
        worst = max(over[0].act)
        parts.append(f"{len(over)} module(s) output values past float16's 65504: first '{over[0].name}' "
                     f"({over[0].kind}, |max| {worst:.3g})"
                     + (f", then {listing([repr(l.name) for l in over[1:]], 3)}" if len(over) > 1 else ""))
    if broke:
        where = f"; the first non-finite output is '{fp16.first_nonfinite}'" if fp16.first_nonfinite else ""
        parts.append(f"under float16 autocast the loss went {_losses(fp16.losses)}{where}")
    bf16 = m.run("bfloat16")
    if bf16 is not None and bf16.first_nonfinite is None and math.isfinite(bf16.gap):
        parts.append(f"bfloat16 holds (loss within {bf16.gap:.1%} of float32)")
    name = (over[0].name if over else fp16.first_nonfinite) or "the first module named"
    advice = (f"Train in bfloat16 (torch.autocast(device, dtype=torch.bfloat16)), or fix '{name}': normalise or "
              f"scale down its output, or keep it in float32 (torch.autocast(..., enabled=False) around it); "
              f"loss scaling does not help with forward overflow.")
    return finding("DLC982", "; ".join(parts), advice)


def gradient_underflow(m: Measured, task, s: Settings) -> Finding | None:
    """DLC983: most nonzero output gradients of some modules lost in fp16 even at the loss scale."""
    limit, scale = float(s["underflow_share"]), float(s["loss_scale"])
    under = [l for l in m.layers if max(l.under) > limit]
    if not under:
        return None
    first = under[0]
    at = f" even multiplied by a loss scale of {scale:g}" if scale > 1 else ""
    return finding("DLC983", f"{len(under)} module(s) have most of their gradient values below float16's smallest "
                             f"subnormal (6e-8){at}: first '{first.name}' ({max(first.under):.0%} of its nonzero "
                             f"values, |max| {max(first.grad):.2g})"
                             + (f", then {listing([repr(l.name) for l in under[1:]], 3)}" if len(under) > 1 else ""))


def loss_gap(m: Measured, task, s: Settings) -> Finding | None:
    """DLC984: an autocast run's loss far from float32's (and finite: non-finite fp16 is DLC982)."""
    limit = float(s["amp_loss_gap_max"])
    far = [r for r in m.runs if r.error is None and math.isfinite(r.gap) and r.gap > limit
           and all(map(math.isfinite, r.losses))]
    if not far or not all(map(math.isfinite, m.fp32)):
        return None
    r = max(far, key=lambda r: r.gap)
    return finding("DLC984", f"under {r.dtype} autocast the loss differs from float32 on the same weights by up to "
                             f"{r.gap:.0%} (at init and after the float32 steps: "
                             f"{_losses(r.losses)} against {_losses(m.fp32)})")


def _losses(values: list[float]) -> str:
    return ", ".join(f"{v:.4g}" for v in values)


def summary(m: Measured) -> str:
    peak = max((max(l.act) for l in m.layers), default=0.0)
    runs = ", ".join(f"{r.dtype} " + ("not run" if r.error else "non-finite" if not math.isfinite(r.gap)
                                      or r.first_nonfinite else f"gap {r.gap:.1%}") for r in m.runs)
    return f"precision: largest activation {peak:.3g}" + (f"; autocast {runs}" if runs else "")


def metrics(m: Measured) -> dict[str, Any]:
    out = {"precision_max_activation": rounded(max((max(l.act) for l in m.layers), default=0.0), 6),
           "precision_fp16_overflow_modules": sum(1 for l in m.layers if max(l.act) > FP16_MAX)}
    for r in m.runs:
        if r.error is None:
            out[f"amp_{r.dtype}_loss_gap"] = rounded(r.gap, 6) if math.isfinite(r.gap) else None
    return out


def details(m: Measured) -> dict[str, list[dict]]:
    rows = [{"module": l.name, "fp16": "overflow" if max(l.act) > FP16_MAX else
             "underflow" if max(l.under) > 0.5 else "ok", "act_init": rounded(l.act[0], 4),
             "act_after": rounded(l.act[1], 4), "grad_init": rounded(l.grad[0], 4), "grad_after": rounded(l.grad[1], 4),
             "grad_lost_fp16": rounded(max(l.under), 4), "type": l.kind} for l in m.layers]
    runs = [{"dtype": r.dtype, "loss_gap": rounded(r.gap, 6) if math.isfinite(r.gap) else None,
             "first_nonfinite": r.first_nonfinite or "-", "losses": _losses(r.losses), "error": r.error or "-"}
            for r in m.runs]
    return {"precision": rows, "autocast": runs}


def skipped(m: Measured) -> str | None:
    return m.skipped


RULES = (fp16_overflow, gradient_underflow, loss_gap)
