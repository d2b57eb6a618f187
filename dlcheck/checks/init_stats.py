"""Recipe step 4: per-layer statistics at initialisation, and what they say about the init.

A few batches go through the freshly initialised model with forward hooks on its weight layers
(Linear, Conv) and activation modules; the last of them also goes through the one training step,
so that gradient norms (after backward) and update-to-weight ratios (after one optimizer step)
are read off the optimizer's step hooks. Activations applied functionally (``F.relu`` inside
``forward``) have no module: the input of the next weight layer is measured instead.

Hooks only reduce on the device (sums, norms, counts, per-unit maxima) and keep those small
tensors; everything is stacked and moved to the host once, at the end. Judging happens after that,
on plain numbers, against SETTINGS.
"""

from __future__ import annotations

import math
import statistics
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from dlcheck.context import Context
from dlcheck.results import CheckResult, Finding, listing
from dlcheck.rules import finding, judge
from dlcheck.state import Hooks
from dlcheck.training import Trainer

Settings = Mapping[str, Any]

NAME = "init-stats"
SETTINGS = {
    "batches": 4,  # batches fed through the model (the last one also trains one step)
    "collapse_ratio": 0.01,  # last / first weight-layer output std at or below this: DLC401 ...
    "explode_ratio": 100.0,  # ... at or above this: DLC402
    "trend_share": 0.7,  # ... when at least this share of layer-to-layer steps goes that way
    "min_depth": 3,  # weight layers needed before a trend through depth is judged
    "saturation_level": 0.97,  # |tanh| (or the same point of sigmoid/hardtanh) counted as saturated
    "saturated_fraction": 0.3,  # a layer with this share of saturated outputs: DLC403
    "dead_fraction": 0.2,  # a layer with this share of dead units: DLC404
    "min_unit_samples": 16,  # values per unit needed before a unit may be called dead
    "grad_vanish_ratio": 1e-3,  # first / last layer gradient norm below this: DLC405
    "grad_explode_ratio": 1e3,  # ... above this: DLC406
    "weight_scale_factor": 3.0,  # weight std beyond this factor of both Xavier and He: DLC407
    "update_high": 0.3,  # median update / weight ratio of the weight layers above this: DLC409
    "update_low": 1e-6,  # ... the largest one below this: DLC409
    "min_bn_values": 16,  # a BatchNorm normalising fewer values per channel makes the statistics
                          # after it degenerate (outputs +-1, huge gradients): those verdicts become info
}

#: Layers with a weight whose scale the Xavier / He rules speak about.
WEIGHT_LAYERS = (nn.Linear, nn.modules.conv._ConvNd)
#: Units that output exact zeros: dead when zero for every sample.
RELU_FAMILY = (nn.ReLU, nn.ReLU6)
#: Bounded units and their (low, high) limits; ReLU6 is a Hardtanh subclass, matched first above.
BOUNDED = (nn.Tanh, nn.Sigmoid, nn.Hardtanh, nn.Hardsigmoid)
#: Other nonlinearities: He-family (ReLU-like) for the init rule; only mean/std are measured.
OTHER_ACTIVATIONS = (nn.GELU, nn.SiLU, nn.Hardswish, nn.LeakyReLU, nn.ELU, nn.CELU, nn.SELU,
                     nn.Mish, nn.PReLU, nn.Softplus, nn.RReLU)
NORMS = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm, nn.LocalResponseNorm)


#: The layer table's columns, in order (columns empty for every layer are left out).
COLUMNS = ("layer", "type", "mean", "std", "zeros", "dead", "saturated", "w_std", "xavier", "he", "init",
           "grad_norm", "update_ratio")


def _limits(module: nn.Module) -> tuple[float, float]:
    if isinstance(module, nn.Hardtanh):
        return float(module.min_val), float(module.max_val)
    if isinstance(module, nn.Tanh):
        return -1.0, 1.0
    return 0.0, 1.0  # Sigmoid, Hardsigmoid


@dataclass
class Record:
    """On-device summaries of one tensor stream: a module's output, or a weight layer's input."""

    name: str
    kind: str  # "weight" | "relu" | "bounded" | "act" | "input"
    type: str
    module: nn.Module
    numel: int = 0
    calls: int = 0
    sums: list = field(default_factory=list)
    norms: list = field(default_factory=list)
    positives: list = field(default_factory=list)  # sum of sign(x): positives - negatives
    saturated: list = field(default_factory=list)  # sum of sign(|u| - level)
    lows: list = field(default_factory=list)
    highs: list = field(default_factory=list)
    unit_sums: list = field(default_factory=list)  # per unit; for values >= 0, a zero sum = dead
    unit_dims: tuple | None = None
    units: int = 0
    from_data: bool = False  # the model's own input: no verdict on it


class Recorder:
    """Forward hooks that summarise activations in depth order. ``new_pass()`` before each forward."""

    def __init__(self, model: nn.Module, saturation_level: float = 0.97):
        self.level = saturation_level
        self.records: dict[tuple[str, int], Record] = {}
        self.order: list[tuple[str, object]] = []  # first pass: ("record", key) / ("norm", name)
        self._model = model
        self._calls: dict[str, int] = {}
        self._activation_outputs: dict[int, tuple[weakref.ref, int]] = {}
        self._last_weight = None
        self._passes = 0
        self.fewest_bn_values: tuple[int, str] | None = None  # (values per channel, BN layer)

    def attach(self, hooks: Hooks) -> "Recorder":
        for name, module in self._model.named_modules():
            if isinstance(module, WEIGHT_LAYERS):
                hooks.add(module.register_forward_pre_hook(self._input_hook(name, module)))
                hooks.add(module.register_forward_hook(self._output_hook(name, module, "weight")))
            elif isinstance(module, RELU_FAMILY):
                hooks.add(module.register_forward_hook(self._output_hook(name, module, "relu")))
            elif isinstance(module, BOUNDED):
                hooks.add(module.register_forward_hook(self._output_hook(name, module, "bounded")))
            elif isinstance(module, OTHER_ACTIVATIONS):
                hooks.add(module.register_forward_hook(self._output_hook(name, module, "act")))
            elif isinstance(module, NORMS):
                hooks.add(module.register_forward_hook(self._norm_hook(name)))
        return self

    def reset(self) -> None:
        """Forget every summary (benchmarks reuse one hooked model for many passes)."""
        self.records.clear()
        self.order.clear()
        self.fewest_bn_values = None
        self._passes = 0

    def new_pass(self) -> None:
        self._passes += 1
        self._calls.clear()
        self._activation_outputs.clear()
        self._last_weight = None

    # -- hooks (reductions only; nothing leaves the device) ----------------------------------
    def _record(self, label: str, module: nn.Module, kind: str) -> Record:
        call = self._calls.get(label, 0)
        self._calls[label] = call + 1
        key = (label, call)
        rec = self.records.get(key)
        if rec is None:
            label = label if call == 0 else f"{label}#{call + 1}"
            rec = Record(label, kind, "input" if kind == "input" else type(module).__name__, module)
            self.records[key] = rec
            if self._passes <= 1:
                self.order.append(("record", key))
        return rec

    def _input_hook(self, name, module):
        label, features_last = f"{name} (input)", isinstance(module, nn.Linear)

        def hook(mod, args):
            x = args[0] if args else None
            if not isinstance(x, torch.Tensor) or not x.is_floating_point() or x.numel() == 0:
                return
            ref, version = self._activation_outputs.get(id(x), (None, None))
            if ref is not None and ref() is x and x._version == version:  # measured already, unchanged
                return  # (an in-place F.relu(..., inplace=True) bumps the version: measured again here)
            first = self._last_weight is None and not self._calls
            rec = self._record(label, module, "input")
            if rec.calls == 0 and self._passes <= 1:
                rec.from_data = first
            x = x.detach()
            self._moments(rec, x, self._unit_sums(rec, x, features_last))
            rec.positives.append(torch.sign(x).sum(dtype=torch.float32))
            low, high = torch.aminmax(x)
            rec.lows.append(low.float())
            rec.highs.append(high.float())
            rec.saturated.append(torch.sign(x.abs().sub_(self.level)).sum(dtype=torch.float32))
        return hook

    def _output_hook(self, name, module, kind):
        def hook(mod, args, output):
            if kind == "weight":
                self._last_weight = module
            if not isinstance(output, torch.Tensor) or not output.is_floating_point() or output.numel() == 0:
                return
            rec = self._record(name, module, kind)
            x = output.detach()  # statistics only: no autograd graph
            if kind == "relu":
                self._moments(rec, x, self._unit_sums(rec, x, isinstance(self._last_weight, nn.Linear)))
                rec.positives.append(torch.sign(x).sum(dtype=torch.float32))
            else:
                self._moments(rec, x)
            if kind == "bounded":
                low, high = _limits(module)
                u = x.sub(0.5 * (low + high)).abs_().mul_(2.0 / (high - low))
                rec.saturated.append(torch.sign(u.sub_(self.level)).sum(dtype=torch.float32))
            # the next layer's pre-hook skips this very tensor: nothing happened to it in between
            self._activation_outputs[id(output)] = (weakref.ref(output), output._version)
        return hook

    def _norm_hook(self, name):
        def hook(mod, args, output):
            if self._passes > 1:
                return
            self.order.append(("norm", name))
            if isinstance(mod, nn.modules.batchnorm._BatchNorm) and mod.training \
                    and isinstance(output, torch.Tensor) and output.dim() >= 2:
                values = output.numel() // output.shape[1]  # what one channel's statistics rest on
                if self.fewest_bn_values is None or values < self.fewest_bn_values[0]:
                    self.fewest_bn_values = (values, name)
        return hook

    @staticmethod
    def _moments(rec: Record, x: torch.Tensor, unit_sums: torch.Tensor | None = None) -> None:
        # sum and L2 norm: the cheapest pair giving mean and std (torch.var_mean is ~20x slower on CPU)
        rec.sums.append(x.sum(dtype=torch.float32) if unit_sums is None else unit_sums.sum())
        rec.norms.append(torch.linalg.vector_norm(x, dtype=torch.float32))
        rec.numel += x.numel()
        rec.calls += 1

    @staticmethod
    def _unit_sums(rec: Record, x: torch.Tensor, features_last: bool) -> torch.Tensor | None:
        """Per-unit sums (a unit is a feature of a Linear, the last dim, or a channel, dim 1): for
        values >= 0 a unit summing to zero was zero for every sample. One reduction also gives the
        total sum."""
        if x.dim() < 2:
            return None
        unit = x.dim() - 1 if features_last else 1
        dims = tuple(d for d in range(x.dim()) if d != unit)
        if rec.unit_dims is None:
            rec.unit_dims, rec.units = dims, x.shape[unit]
        if rec.unit_dims != dims or rec.units != x.shape[unit]:  # shapes changed: no dead-unit count
            rec.units = -1
            rec.unit_sums.clear()
        sums = x.sum(dim=dims, dtype=torch.float32)
        if rec.units > 0:
            rec.unit_sums.append(sums)
        return sums

    # -- one transfer at the end -------------------------------------------------------------
    def summaries(self) -> list[dict]:
        """Per record in depth order: plain numbers (one host transfer for all of them)."""
        keys = [k for kind, k in self.order if kind == "record" and self.records[k].calls]
        slots, values = [], []

        def put(t: torch.Tensor) -> int:
            values.append(t.double().reshape(()))
            return len(values) - 1

        from dlcheck import distributed

        for key in keys:
            rec = self.records[key]
            slot = {"sum": put(torch.stack(rec.sums).sum()),
                    "sq": put(torch.stack(rec.norms).double().square().sum())}
            if rec.positives:
                slot["pos"] = put(torch.stack(rec.positives).sum())
            if rec.saturated:
                slot["sat"] = put(torch.stack(rec.saturated).sum())
            if rec.lows:
                slot["low"] = put(torch.stack(rec.lows).min())
                slot["high"] = put(torch.stack(rec.highs).max())
            if rec.unit_sums and rec.units > 0:  # under torchrun: dead on every rank's samples
                slot["dead"] = put((distributed.sum_tensor(torch.stack(rec.unit_sums).sum(0)) <= 0).sum())
            slot["n"] = put(torch.tensor(float(rec.numel), device=values[0].device))
            slots.append(slot)
        numbers = torch.stack(values).tolist() if values else []
        if distributed.active() and numbers:  # the statistics of all ranks' samples together
            ops = ["sum"] * len(numbers)
            for slot in slots:
                ops[slot["sum"]] = ops[slot["sq"]] = "sum"
                if "low" in slot:
                    ops[slot["low"]], ops[slot["high"]] = "min", "max"
                if "dead" in slot:
                    ops[slot["dead"]] = "max"  # already global (from the summed unit sums)
            numbers = distributed.reduce_floats(numbers, ops)
        out = []
        for key, slot in zip(keys, slots):
            rec = self.records[key]
            got = {k: numbers[i] for k, i in slot.items()}
            n = got["n"]
            mean = got["sum"] / n
            std = math.sqrt(max(got["sq"] / n - mean * mean, 0.0)) if math.isfinite(got["sq"]) else got["sq"]
            row = {"key": key, "record": rec, "mean": mean, "std": std,
                   "finite": math.isfinite(got["sum"]) and math.isfinite(got["sq"])}
            per_unit = n / rec.units if rec.units > 0 else 0
            if rec.kind == "relu":
                row["zeros"] = 1.0 - got["pos"] / n
            if rec.kind == "bounded":
                row["saturated"] = (got["sat"] + n) / (2 * n)
            if rec.kind == "input":
                row["low"], row["high"] = got["low"], got["high"]
                if got["low"] >= 0:  # non-negative: sign(x) sums the positives
                    row["zeros"] = 1.0 - got["pos"] / n
                if -1.0 <= got["low"] < 0 < got["high"] <= 1.0:  # tanh-like: saturation means something
                    row["saturated"] = (got["sat"] + n) / (2 * n)
            if "dead" in got and (rec.kind == "relu" or row.get("zeros") is not None):
                row["dead"], row["units"], row["per_unit"] = int(got["dead"]), rec.units, per_unit
            out.append(row)
        return out


def post_relu(row: dict) -> bool:
    """A weight layer's input that is >= 0 everywhere with many zeros came through a ReLU."""
    return row["record"].kind == "input" and row.get("zeros") is not None and row["zeros"] >= 0.05


def fan_in(module: nn.Module) -> int:
    w = module.weight
    if isinstance(module, nn.modules.conv._ConvTransposeNd):  # each output sees in/g * k / stride
        return max(1, module.in_channels // module.groups * math.prod(module.kernel_size)
                   // math.prod(module.stride))
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
    layer: bool = False  # the first call of a weight layer (the rows below are set)
    w_std: float | None = None
    fan_in: int | None = None
    init: str | None = None  # "He" | "Xavier"
    normalised: bool = False  # a normalisation layer comes before the next nonlinearity

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


def run(ctx: Context) -> CheckResult:
    result = ctx.result
    m = _measure(ctx)
    table = layer_table(m)
    result.details["layers"] = table
    _artifacts(result, table, m.params)
    result.metrics.update(metrics(m))
    result.findings += judge(RULES, m, ctx.task, ctx.settings)
    result.summary = summary(m)
    return result


def _measure(ctx: Context) -> Measured:
    s = ctx.settings
    batches = ctx.batches(int(s["batches"]))
    with ctx.model() as model:
        model.train()  # the mode the first training step sees
        named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        layers = {name: m for name, m in model.named_modules() if isinstance(m, WEIGHT_LAYERS)}
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
        wstd = dict(zip(layers, weight_std.tolist()))
        param_rows = _parameter_rows(named, probe)
    return Measured(streams=_streams(rows, recorder.order, layers, wstd), params=param_rows, layers=list(layers),
                    loss=loss, batches=len(batches), lr=ctx.lr, fewest_bn_values=recorder.fewest_bn_values)


def _streams(rows: list[dict], order, layers: dict, wstd: dict) -> list[Stream]:
    """The recorder's rows as plain numbers; weight layers with their scale and wanted init."""
    rows_by_key = {r["key"]: r for r in rows}
    streams = []
    for row in rows:
        rec = row["record"]
        st = Stream(name=rec.name, kind=rec.kind, type=rec.type, mean=row["mean"], std=row["std"],
                    finite=row["finite"], from_data=rec.from_data, zeros=row.get("zeros"),
                    saturated=row.get("saturated"), dead=row.get("dead"), units=row.get("units"),
                    per_unit=row.get("per_unit"))
        if rec.kind == "weight" and rec.name in layers:  # the first call of a weight layer
            st.layer, st.w_std, st.fan_in = True, wstd[rec.name], fan_in(layers[rec.name])
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



# -- the numbers the rules, metrics and summary share -------------------------------------------
def weight_layers(m: Measured) -> list[Stream]:
    return [st for st in m.streams if st.layer]


def _grads(m: Measured) -> dict[str, dict]:
    return {r["parameter"]: r for r in m.params}


def _depth(m: Measured) -> list[Stream]:
    """The weight layers judged through depth: finite, with a weight."""
    return [st for st in weight_layers(m) if st.finite and st.w_std > 0]


def body(m: Measured) -> list[Stream]:
    """The trend through depth is judged on the body: the head's scale is a design choice that
    init-loss judges by the logits (TF-style heads are small on purpose)."""
    depth = _depth(m)
    return depth[:-1] if len(depth) > 1 else depth


def stds(m: Measured) -> list[float]:
    return [st.std for st in body(m)]


def _grad_list(m: Measured, streams: list[Stream]) -> list[tuple[str, float]]:
    grads = _grads(m)
    return [(st.label, grads[f"{st.name}.weight"]["grad_norm"]) for st in streams
            if f"{st.name}.weight" in grads and grads[f"{st.name}.weight"]["grad_norm"] > 0]


def grad_seq(m: Measured) -> list[tuple[str, float]]:
    """(label, weight gradient norm) of every weight layer through depth, head included."""
    return _grad_list(m, _depth(m))


def grad_spread(m: Measured) -> tuple[list[tuple[str, float]], int, float | None, float | None]:
    """Vanishing / exploding gradients are judged through the body as well: the head's gradient is
    dL/dlogits x its input, large whenever the body's weights are small (BERT's 0.02 init); and
    single layers are no measure of depth (attention queries and keys get ~1e-2 of the values'
    gradient at init, by design): the median of the first third against the last third's.
    Returns (the body's gradients, the third, its first median, its last median)."""
    grad_body = _grad_list(m, body(m)) if len(_depth(m)) > 1 else grad_seq(m)
    third = max(1, len(grad_body) // 3)
    first = statistics.median(g for _, g in grad_body[:third]) if grad_body else None
    last = statistics.median(g for _, g in grad_body[-third:]) if grad_body else None
    return grad_body, third, first, last


def update_ratios(m: Measured) -> list[float]:
    """Update / weight after one step of the weight layers' weights that got a gradient."""
    return [r["update_ratio"] for r in m.params
            if r["update_ratio"] is not None and math.isfinite(r["update_ratio"]) and r["parameter"].endswith("weight")
            and r["grad_norm"] > 0 and r["parameter"].rsplit(".", 1)[0] in m.layers]


def zero_grad(m: Measured) -> list[str]:
    return [r["parameter"] for r in m.params if r["grad_norm"] == 0]


def degenerate(m: Measured, s: Settings) -> tuple[int, str] | None:
    """BatchNorm over a handful of values per channel (tiny batch x tiny feature map) normalises
    them to about +-1 and amplifies gradients: a batch-size artefact (bn-gap's DLC505/506), so the
    verdicts it distorts are downgraded to info with the reason."""
    bn = m.fewest_bn_values
    return bn if bn and bn[0] < s["min_bn_values"] else None


def _trend_share(values: list[float]) -> tuple[float, float]:
    """Shares of layer-to-layer steps that shrink and that grow."""
    steps = list(zip(values, values[1:]))
    down = sum(1 for a, b in steps if b < a) / len(steps)
    up = sum(1 for a, b in steps if b > a) / len(steps)
    return down, up


def _depth_code(m: Measured, s: Settings) -> str | None:
    """DLC401 / DLC402 / None: the activation std through depth."""
    values = stds(m)
    if len(values) < int(s["min_depth"]) or not values[0] > 0:
        return None
    ratio, trend = values[-1] / values[0], _trend_share(values)
    if ratio <= s["collapse_ratio"] and trend[0] >= s["trend_share"]:
        return "DLC401"
    if ratio >= s["explode_ratio"] and trend[1] >= s["trend_share"]:
        return "DLC402"
    return None


def _saturated(m: Measured, s: Settings) -> list[Stream]:
    """The layers saturated (the model's own input is not judged; nor inputs after a degenerate
    BatchNorm: +-1 from BN, not from tanh)."""
    bad_bn = degenerate(m, s)
    return [st for st in m.streams if st.finite and st.saturated is not None and not st.from_data
            and st.saturated >= s["saturated_fraction"] and not (bad_bn and st.kind == "input")]


def _gradient_code(m: Measured, s: Settings) -> str | None:
    """DLC405 / DLC406 / None: the first layers' gradient norm against the last layers'."""
    grad_body, _, first, last = grad_spread(m)
    if len(grad_body) < 2 or not all(math.isfinite(g) for _, g in grad_body):
        return None
    if first / last <= s["grad_vanish_ratio"]:
        return "DLC405"
    if first / last >= s["grad_explode_ratio"]:
        return "DLC406"
    return None


# -- rules: one per finding code ----------------------------------------------------------------
def not_finite(m: Measured, task, s: Settings) -> Finding | None:
    """DLC408: NaN / Inf, at the first place in depth order where it appears."""
    bad = next((st for st in m.streams if not st.finite), None)
    bad_grads = [r["parameter"] for r in m.params if not math.isfinite(r["grad_norm"])]
    if bad is not None:
        where = (f"the model's input (the data going into {bad.name.removesuffix(' (input)')})"
                 if bad.from_data else bad.label)
        return finding("DLC408", f"NaN/Inf first appears in {where}, layer {m.streams.index(bad) + 1} "
                                 f"of {len(m.streams)}")
    if bad_grads or not math.isfinite(m.loss):
        what = f"the gradient of {', '.join(bad_grads[:3])}" if bad_grads else "the loss"
        return finding("DLC408", f"the activations are finite but {what} is NaN/Inf")


def through_depth(m: Measured, task, s: Settings) -> Finding | None:
    """DLC401: activations collapse through depth; DLC402: they explode."""
    code = _depth_code(m, s)
    if code is None:
        return None
    layers, values = body(m), stds(m)
    names = f"{layers[0].label} -> {layers[-1].label}"
    verb = "falls" if code == "DLC401" else "grows"
    return finding(code, f"activation std {verb} from {values[0]:.3g} to {values[-1]:.3g} "
                         f"({values[-1] / values[0]:.2g}x) through {len(values)} layers ({names})")


def saturation(m: Measured, task, s: Settings) -> Finding | None:
    """DLC403: a share of a layer's values at the limits of a bounded unit."""
    saturated = _saturated(m, s)
    if saturated:
        worst = max(saturated, key=lambda st: st.saturated)
        return finding("DLC403", f"{len(saturated)} layer(s) saturated: {_names(saturated)}; worst "
                                 f"{worst.label} with {worst.saturated:.0%} of its values at the limits")


def dead_units(m: Measured, task, s: Settings) -> Finding | None:
    """DLC404: units zero for every value seen (only with enough values per unit)."""
    dead = [st for st in m.streams if st.finite and st.dead is not None and not st.from_data
            and st.per_unit >= s["min_unit_samples"] and st.units > 0
            and st.dead / st.units >= s["dead_fraction"]]
    if dead:
        worst = max(dead, key=lambda st: st.dead / st.units)
        return finding("DLC404", f"dead units (zero for every value seen) in {len(dead)} layer(s): "
                                 f"{_names(dead)}; worst {worst.label} with {worst.dead}/{worst.units}")


def gradients(m: Measured, task, s: Settings) -> Finding | None:
    """DLC405: the first layers' gradients vanish against the last; DLC406: they explode. Info
    only when a degenerate BatchNorm distorts them."""
    code = _gradient_code(m, s)
    if code is None:
        return None
    grad_body, third, first, last = grad_spread(m)
    if third == 1:
        span = f"{grad_body[0][0]} {first:.3g} vs {grad_body[-1][0]} {last:.3g}"
    else:
        span = (f"median of the first {third} layers, {grad_body[0][0]} to {grad_body[third - 1][0]}, "
                f"{first:.3g} vs the last {third}, {grad_body[-third][0]} to {grad_body[-1][0]}, {last:.3g}")
    bn = degenerate(m, s)
    caveat = (f" (BatchNorm {bn[1]} normalises only {bn[0]} values per channel at this batch size, "
              f"which distorts this statistic; judge it with larger batches)") if bn else ""
    return finding(code, f"gradient norm of the first layers is {first / last:.2g}x the last ({span}){caveat}",
                   severity="info" if bn else None)


def weight_scale(m: Measured, task, s: Settings) -> Finding | None:
    """DLC407: weight std against Xavier / He. Layers followed by normalisation are scale-free and
    skipped; when the activations and gradients stay healthy an off-scale weight is a design
    choice (TF-style 0.01 heads, ViT-style 0.02 init, fan-out init of squeeze-excite convs): info."""
    f = float(s["weight_scale_factor"])
    off = [st for st in weight_layers(m) if not st.normalised and st.w_std > 0 and math.isfinite(st.w_std)
           and not any(1 / f <= st.w_std / ref <= f for ref in (1 / math.sqrt(st.fan_in), math.sqrt(2 / st.fan_in)))]
    if not off:
        return None
    st = off[0]
    ref = math.sqrt(2 / st.fan_in) if st.init == "He" else 1 / math.sqrt(st.fan_in)
    more = f" (and {len(off) - 1} more layers)" if len(off) > 1 else ""
    # the verdicts that make it trouble, at a severity above info (DLC401-403, DLC405/406)
    trouble = _depth_code(m, s) is not None or bool(_saturated(m, s)) \
        or (_gradient_code(m, s) is not None and degenerate(m, s) is None)
    note = "" if trouble else "; the activations stay healthy, so this reads as a deliberate choice"
    return finding("DLC407", f"{st.label}: weight std {st.w_std:.3g} is {st.w_std / ref:.2g}x the {st.init} scale "
                             f"{ref:.3g} for fan-in {st.fan_in}{more}{note}", severity=None if trouble else "info")


def update_ratio(m: Measured, task, s: Settings) -> Finding | None:
    """DLC409: one optimizer step's update / weight. Too high when most layers move a lot; too low
    only when even the fastest layer barely moves (layer scale / zero-init branches keep some
    layers still)."""
    ratios = update_ratios(m)
    if not ratios:
        return None
    med, top = statistics.median(ratios), max(ratios)
    if med >= s["update_high"]:
        return finding("DLC409", f"median update/weight ratio after one step is {med:.2g} at lr {m.lr:g} "
                                 f"(above {s['update_high']:g}; ~1e-3 is the rule of thumb): the LR is too high")
    if top <= s["update_low"]:
        return finding("DLC409", f"the largest update/weight ratio after one step is {top:.2g} at lr {m.lr:g} "
                                 f"(below {s['update_low']:g}; ~1e-3 is the rule of thumb): the LR is too low")


#: The rules, in the order their findings are reported.
RULES = (not_finite, through_depth, saturation, dead_units, gradients, weight_scale, update_ratio)


# -- table, metrics, summary: functions of the measured data ------------------------------------
def layer_table(m: Measured) -> list[dict]:
    """One row per stream; columns empty for every layer are left out."""
    grads = _grads(m)
    table = []
    for st in m.streams:
        out = {"layer": st.name, "type": st.type, "mean": _num(st.mean), "std": _num(st.std)}
        if st.zeros is not None:
            out["zeros"] = _num(st.zeros)
        if st.dead is not None:
            out["dead"] = f"{st.dead}/{st.units}"
        if st.saturated is not None:
            out["saturated"] = _num(st.saturated)
        if st.layer:
            out.update({"w_std": _num(st.w_std), "xavier": _num(1 / math.sqrt(st.fan_in)),
                        "he": _num(math.sqrt(2 / st.fan_in)), "init": st.init})
            g = grads.get(f"{st.name}.weight")
            if g is not None:
                out["grad_norm"] = _num(g["grad_norm"])
                out["update_ratio"] = _num(g["update_ratio"])
        table.append(out)
    used = [c for c in COLUMNS if any(r.get(c) is not None for r in table)]
    return [{c: r.get(c) for c in used} for r in table]


def metrics(m: Measured) -> dict:
    values, seq, ratios = stds(m), grad_seq(m), update_ratios(m)
    grad_body, _, first, last = grad_spread(m)
    return {
        "layers": len(weight_layers(m)), "batches": m.batches, "loss": _num(m.loss),
        "first_std": _num(values[0]) if values else None, "last_std": _num(values[-1]) if values else None,
        "std_ratio": _num(values[-1] / values[0]) if len(values) > 1 and values[0] > 0 else None,
        "std_trend": [_num(v) for v in _trend_share(values)] if len(values) > 1 else None,
        "grad_ratio": _num(seq[0][1] / seq[-1][1]) if len(seq) > 1 else None,
        "body_grad_ratio": _num(first / last) if len(grad_body) > 1 else None,
        "median_update_ratio": _num(statistics.median(ratios)) if ratios else None,
        "max_update_ratio": _num(max(ratios)) if ratios else None,
        "zero_grad_params": len(zero_grad(m)),
    }


def summary(m: Measured) -> str:
    values, ratios, zeros = stds(m), update_ratios(m), zero_grad(m)
    grad_body, _, first, last = grad_spread(m)
    parts = [f"{len(weight_layers(m))} weight layers"]
    if len(values) > 1:
        parts.append(f"activation std {values[0]:.3g} -> {values[-1]:.3g}")
    if len(grad_body) > 1:
        parts.append(f"grad norm first/last {first / last:.3g}")
    if ratios:
        parts.append(f"median update/weight {statistics.median(ratios):.2g}")
    if zeros:
        parts.append(f"{len(zeros)} parameters get exactly zero gradient at step 0 (a zero-initialised "
                     f"layer downstream, dead units, or unused)")
    return "; ".join(parts)


def _names(streams: list[Stream], shown: int = 4) -> str:
    return listing([st.label for st in streams], shown)


def _num(value):
    """4 significant digits for the report; non-finite stays a float (the JSON writer names it)."""
    if value is None:
        return None
    value = float(value)
    return float(f"{value:.4g}") if math.isfinite(value) else value


def _artifacts(result: CheckResult, table: list[dict], param_rows: list[dict]) -> None:
    result.table("layers.csv", table)
    if param_rows:
        result.table("parameters.csv", param_rows)
    result.figure("layer_stats_by_depth", "activation std by depth", file="activation-std.png",
                  layers=[str(r["layer"]) for r in table], values=[r["std"] for r in table],
                  ylabel="activation std", title="init-stats: activation std by depth")
    grads = [r for r in table if r.get("grad_norm") is not None]
    if grads:
        result.figure("layer_stats_by_depth", "weight gradient norm by depth", file="grad-norm.png",
                      layers=[str(r["layer"]) for r in grads], values=[r["grad_norm"] for r in grads],
                      ylabel="weight gradient norm", title="init-stats: gradient norm by depth")
