"""Measuring: a few batches through the hooked model (the Recorder), then the one training step
with the optimizer's step hooks (StepProbe: gradient norms before it, update / weight after it);
everything ends as plain numbers in :class:`Measured`."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn

from dlcheck.checks.init_stats.recorder import Recorder, features_last, weight_layer
from dlcheck.context import Context
from dlcheck.modules import compiled_inside, unwrap
from dlcheck.state import Hooks
from dlcheck.training import Trainer

def post_relu(row: dict) -> bool:
    """A weight layer's input that is >= 0 everywhere with many zeros came through a ReLU."""
    return row["record"].kind == "input" and row.get("zeros") is not None and row["zeros"] >= 0.05


def fan_in(module: nn.Module) -> int:
    w = module.weight
    if isinstance(module, nn.modules.conv._ConvTransposeNd):  # each output sees in/g * k / stride
        return max(1, module.in_channels // module.groups * math.prod(module.kernel_size)
                   // math.prod(module.stride))
    if features_last(module) and not isinstance(module, nn.Linear):  # HF's Conv1D: weight (in, out)
        return int(w.shape[0])
    return int(w[0].numel())


def gradient_norms(params: list[torch.Tensor]) -> torch.Tensor:
    """L2 norm of each parameter's .grad (0 where there is none), on the device, one tensor."""
    norms = [torch.linalg.vector_norm(p.grad, dtype=torch.float32) if p.grad is not None
             else torch.zeros((), device=p.device) for p in params]
    return torch.stack(norms) if norms else torch.zeros(0)


class StepProbe:
    """Optimizer step hooks: gradient norms before the step, update / weight norms after it.

    The update is measured on an evenly strided sample of at most ``sample`` elements per
    parameter, so the snapshot costs a few MB however large the model is.
    """

    def __init__(self, named_params: list[tuple[str, torch.Tensor]], sample: int = 65536):
        self.named = named_params
        self.sample = sample
        self.grad = self.weight = self.update = None
        self._before = None

    def attach(self, optimizer: torch.optim.Optimizer, hooks: Hooks) -> "StepProbe":
        hooks.add(optimizer.register_step_pre_hook(self._pre))
        hooks.add(optimizer.register_step_post_hook(self._post))
        return self

    def _strided(self, p: torch.Tensor) -> torch.Tensor:
        flat = p.detach().reshape(-1)
        return flat[::max(1, flat.numel() // self.sample)]

    def _pre(self, optimizer, args, kwargs):
        if self._before is not None or self.update is not None:
            return
        params = [p for _, p in self.named]
        from dlcheck import distributed

        distributed.average_gradients(params)  # under torchrun: the step DDP would take
        self.grad = gradient_norms(params)
        self._before = [self._strided(p).clone() for p in params]

    def _post(self, optimizer, args, kwargs):
        if self._before is None:
            return
        after = [self._strided(p) for _, p in self.named]
        self.weight = torch.stack([torch.linalg.vector_norm(b, dtype=torch.float32) for b in self._before])
        self.update = torch.stack([torch.linalg.vector_norm(a - b, dtype=torch.float32)
                                   for a, b in zip(after, self._before)])
        self._before = None


@dataclass
class Stream:
    """One measured tensor stream in depth order (a module's output or a weight layer's input),
    as plain numbers; a weight layer's first call also carries its weight scale and the init its
    following nonlinearity calls for."""

    name: str
    kind: str  # "weight" | "relu" | "bounded" | "act" | "input"
    type: str
    mean: float
    std: float
    finite: bool
    from_data: bool = False  # the model's own input: no verdict on it
    zeros: float | None = None
    saturated: float | None = None
    dead: int | None = None
    units: int | None = None
    per_unit: float | None = None  # values seen per unit
    pooled: bool = False  # one value per sample and channel of a globally pooled map (squeeze-excitation)
    layer: bool = False  # the first call of a weight layer (the rows below are set)
    w_std: float | None = None
    fan_in: int | None = None
    init: str | None = None  # "He" | "Xavier"
    normalised: bool = False  # a normalisation layer comes before the next nonlinearity
    frozen: bool = False  # its weight does not require grad: loaded (pretrained), not an init to judge

    @property
    def label(self) -> str:
        """'fc1 [Linear]', '3 [ReLU]', 'fc2 (input)': the name a user finds in the model's repr."""
        return self.name if self.kind == "input" else f"{self.name} [{self.type}]"


@dataclass
class Measured:
    """What init-stats measured; the rules read only this and the settings."""

    streams: list[Stream]
    params: list[dict]  # per trainable parameter: grad_norm, weight_norm, update_norm, update_ratio
    layers: list[str]  # the weight layers (Linear, Conv), in module order
    loss: float
    batches: int
    lr: float
    fewest_bn_values: tuple[int, str] | None = None  # (values per channel, BatchNorm layer)
    wrapped: list[str] = field(default_factory=list)  # wrappers measured through ("torch.compile", ...)
    compiled: list[str] = field(default_factory=list)  # submodules compiled themselves (hooks inside do not fire)


def measure(ctx: Context) -> Measured:
    s = ctx.settings
    batches = ctx.batches(int(s["batches"]))
    with ctx.model() as handed:
        model, wrapped = unwrap(handed)  # hooks do not fire inside a compiled graph: its module runs eagerly
        model.train()  # the mode the first training step sees
        named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        layers = {name: m for name, m in model.named_modules() if weight_layer(m)}
        with Hooks() as hooks:
            recorder = Recorder(model, float(s["saturation_level"])).attach(hooks)
            with torch.no_grad():  # activation statistics of the first batches, weights at init
                for i, batch in enumerate(batches[:-1]):
                    recorder.new_pass()
                    ctx.forward(model, batch, i)
            optimizer = ctx.optimizer([p for _, p in named])
            probe = StepProbe(named).attach(optimizer, hooks)
            weight_std = torch.stack([m.weight.detach().float().std() if m.weight.numel() > 1
                                      else m.weight.detach().float().abs().reshape(()) for m in layers.values()]) \
                if layers else torch.zeros(0)
            recorder.new_pass()
            step = Trainer(ctx, model, optimizer).step(batches[-1], len(batches) - 1)
        rows = recorder.summaries()
        from dlcheck import distributed

        loss = float(distributed.mean(step.loss))
        # read while the model is still in dlcheck's hands: a parametrised weight (spectral_norm) is
        # computed on access, and in training mode that access moves its power-iteration buffers
        facts = {name: (w, fan_in(m), not m.weight.requires_grad) for (name, m), w in zip(layers.items(),
                                                                                         weight_std.tolist())}
        param_rows = _parameter_rows(named, probe)
    return Measured(streams=_streams(rows, recorder.order, facts), params=param_rows, layers=list(layers),
                    loss=loss, batches=len(batches), lr=ctx.lr, fewest_bn_values=recorder.fewest_bn_values,
                    wrapped=wrapped, compiled=compiled_inside(model))


def _streams(rows: list[dict], order, facts: dict) -> list[Stream]:
    """The recorder's rows as plain numbers; weight layers with their scale and wanted init
    (``facts``: per weight layer, its weight std, fan-in and whether it is frozen)."""
    rows_by_key = {r["key"]: r for r in rows}
    streams = []
    for row in rows:
        rec = row["record"]
        st = Stream(name=rec.name, kind=rec.kind, type=rec.type, mean=row["mean"], std=row["std"],
                    finite=row["finite"], from_data=rec.from_data, zeros=row.get("zeros"),
                    saturated=row.get("saturated"), dead=row.get("dead"), units=row.get("units"),
                    per_unit=row.get("per_unit"), pooled=row.get("pooled", False))
        if rec.kind == "weight" and rec.name in facts:  # the first call of a weight layer
            st.layer = True
            st.w_std, st.fan_in, st.frozen = facts[rec.name]
            st.init, st.normalised = _following(order, rows_by_key, row["key"])
        streams.append(st)
    return streams


def _parameter_rows(named, probe: StepProbe) -> list[dict]:
    if probe.grad is None:
        return []
    grad = probe.grad.tolist()
    weight = probe.weight.tolist() if probe.weight is not None else [float("nan")] * len(named)
    update = probe.update.tolist() if probe.update is not None else [float("nan")] * len(named)
    rows = []
    for (name, p), g, w, u in zip(named, grad, weight, update):
        rows.append({"parameter": name, "shape": "x".join(map(str, p.shape)) or "scalar", "grad_norm": g,
                     "weight_norm": w, "update_norm": u, "update_ratio": u / w if w > 0 else None})
    return rows


def _following(recorder_order, rows_by_key, layer_key) -> tuple[str, bool]:
    """The init a weight layer's following nonlinearity calls for (He for ReLU-like units, Xavier
    for tanh/sigmoid or none) and whether a normalisation layer comes first."""
    seen = False
    normalised = False
    for kind, key in recorder_order:
        if not seen:
            seen = kind == "record" and key == layer_key
            continue
        if kind == "norm":
            normalised = True
            continue
        row = rows_by_key.get(key)
        if row is None:
            continue
        rec = row["record"]
        if rec.kind in ("relu", "act"):
            return "He", normalised
        if rec.kind == "bounded":
            return "Xavier", normalised
        if rec.kind == "input":  # a functional activation: seen only in what it left behind
            return ("He" if post_relu(row) else "Xavier"), normalised
        if rec.kind == "weight":  # straight into the next layer: linear, gain 1
            return "Xavier", normalised
    return "Xavier", normalised
