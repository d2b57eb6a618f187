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
from dataclasses import dataclass, field

import torch
from torch import nn

from dlcheck.context import Context
from dlcheck.results import CheckResult, listing
from dlcheck.state import Hooks
from dlcheck.training import Trainer

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


def run(ctx: Context) -> CheckResult:
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
    return _judge(ctx, rows, recorder, layers, wstd, param_rows, loss, len(batches))


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


def _judge(ctx: Context, rows, recorder: Recorder, layers, wstd, param_rows, loss, n_batches) -> CheckResult:
    s = ctx.settings
    result = ctx.result
    order = recorder.order
    # BatchNorm over a handful of values per channel (tiny batch x tiny feature map) normalises
    # them to about +-1 and amplifies gradients: a batch-size artefact (bn-gap's DLC505/506),
    # so the verdicts it distorts are downgraded to info with the reason
    degenerate = recorder.fewest_bn_values if recorder.fewest_bn_values and \
        recorder.fewest_bn_values[0] < s["min_bn_values"] else None
    caveat = (f" (BatchNorm {degenerate[1]} normalises only {degenerate[0]} values per channel at this "
              f"batch size, which distorts this statistic; judge it with larger batches)") if degenerate else ""
    soft = "info" if degenerate else None
    rows_by_key = {r["key"]: r for r in rows}
    grads = {r["parameter"]: r for r in param_rows}
    table, weight_rows = [], []
    for row in rows:
        rec = row["record"]
        out = {"layer": rec.name, "type": rec.type, "mean": _num(row["mean"]), "std": _num(row["std"])}
        if row.get("zeros") is not None:
            out["zeros"] = _num(row["zeros"])
        if row.get("dead") is not None:
            out["dead"] = f"{row['dead']}/{row['units']}"
        if row.get("saturated") is not None:
            out["saturated"] = _num(row["saturated"])
        if rec.kind == "weight" and rec.name in layers:  # the first call of a weight layer
            module = layers[rec.name]
            fin = fan_in(module)
            wanted, normalised = _following(order, rows_by_key, row["key"])
            out.update({"w_std": _num(wstd[rec.name]), "xavier": _num(1 / math.sqrt(fin)),
                        "he": _num(math.sqrt(2 / fin)), "init": wanted})
            g = grads.get(f"{rec.name}.weight")
            if g is not None:
                out["grad_norm"] = _num(g["grad_norm"])
                out["update_ratio"] = _num(g["update_ratio"])
            weight_rows.append((row, out, module, fin, wanted, normalised))
        table.append(out)
    used = [c for c in COLUMNS if any(r.get(c) is not None for r in table)]
    table = [{c: r.get(c) for c in used} for r in table]
    result.details["layers"] = table
    _artifacts(ctx, table, param_rows)

    finite_rows = [r for r in rows if r["finite"]]
    depth = [(row, out) for row, out, module, *_ in weight_rows
             if row["finite"] and wstd.get(row["record"].name, 0) > 0]
    # the trend through depth is judged on the body: the head's scale is a design choice that
    # init-loss judges by the logits (TF-style heads are small on purpose)
    body = depth[:-1] if len(depth) > 1 else depth
    stds = [row["std"] for row, _ in body]
    grad_seq = [(_label(row), grads[f"{out['layer']}.weight"]["grad_norm"]) for row, out in depth
                if f"{out['layer']}.weight" in grads and grads[f"{out['layer']}.weight"]["grad_norm"] > 0]
    # vanishing / exploding gradients are judged through the body as well: the head's gradient is
    # dL/dlogits x its input, large whenever the body's weights are small (BERT's 0.02 init); and
    # single layers are no measure of depth (attention queries and keys get ~1e-2 of the values'
    # gradient at init, by design): the median of the first third against the last third's
    grad_body = [(_label(row), grads[f"{out['layer']}.weight"]["grad_norm"]) for row, out in body
                 if f"{out['layer']}.weight" in grads and grads[f"{out['layer']}.weight"]["grad_norm"] > 0] \
        if len(depth) > 1 else grad_seq
    third = max(1, len(grad_body) // 3)
    grad_first = statistics.median(g for _, g in grad_body[:third]) if grad_body else None
    grad_last = statistics.median(g for _, g in grad_body[-third:]) if grad_body else None
    ratios = [r["update_ratio"] for r in param_rows
              if r["update_ratio"] is not None and math.isfinite(r["update_ratio"]) and r["parameter"].endswith("weight")
              and r["grad_norm"] > 0 and r["parameter"].rsplit(".", 1)[0] in layers]
    zero_grad = [r["parameter"] for r in param_rows if r["grad_norm"] == 0]
    result.metrics.update({
        "layers": len(weight_rows), "batches": n_batches, "loss": _num(loss),
        "first_std": _num(stds[0]) if stds else None, "last_std": _num(stds[-1]) if stds else None,
        "std_ratio": _num(stds[-1] / stds[0]) if len(stds) > 1 and stds[0] > 0 else None,
        "std_trend": [_num(v) for v in _trend_share(stds)] if len(stds) > 1 else None,
        "grad_ratio": _num(grad_seq[0][1] / grad_seq[-1][1]) if len(grad_seq) > 1 else None,
        "body_grad_ratio": _num(grad_first / grad_last) if len(grad_body) > 1 else None,
        "median_update_ratio": _num(statistics.median(ratios)) if ratios else None,
        "max_update_ratio": _num(max(ratios)) if ratios else None,
        "zero_grad_params": len(zero_grad),
    })

    # NaN / Inf: the first place in depth order where it appears
    bad = next((r for r in rows if not r["finite"]), None)
    bad_grads = [r["parameter"] for r in param_rows if not math.isfinite(r["grad_norm"])]
    if bad is not None:
        rec = bad["record"]
        where = (f"the model's input (the data going into {rec.name.removesuffix(' (input)')})"
                 if rec.from_data else _label(bad))
        result.add("DLC408", f"NaN/Inf first appears in {where}, layer {rows.index(bad) + 1} of {len(rows)}")
    elif bad_grads or not math.isfinite(loss):
        what = f"the gradient of {', '.join(bad_grads[:3])}" if bad_grads else "the loss"
        result.add("DLC408", f"the activations are finite but {what} is NaN/Inf")

    # through depth: collapse / explosion
    min_depth = int(s["min_depth"])
    if len(stds) >= min_depth and stds[0] > 0:
        ratio = stds[-1] / stds[0]
        trend = _trend_share(stds)
        names = f"{_label(body[0][0])} -> {_label(body[-1][0])}"
        if ratio <= s["collapse_ratio"] and trend[0] >= s["trend_share"]:
            result.add("DLC401", f"activation std falls from {stds[0]:.3g} to {stds[-1]:.3g} ({ratio:.2g}x) "
                                 f"through {len(stds)} layers ({names})")
        elif ratio >= s["explode_ratio"] and trend[1] >= s["trend_share"]:
            result.add("DLC402", f"activation std grows from {stds[0]:.3g} to {stds[-1]:.3g} ({ratio:.2g}x) "
                                 f"through {len(stds)} layers ({names})")

    # saturation and dead units, per layer (the model's own input is not judged)
    saturated = [r for r in finite_rows if r.get("saturated") is not None and not r["record"].from_data
                 and r["saturated"] >= s["saturated_fraction"]
                 and not (degenerate and r["record"].kind == "input")]  # +-1 from BN, not from tanh
    if saturated:
        worst = max(saturated, key=lambda r: r["saturated"])
        result.add("DLC403", f"{len(saturated)} layer(s) saturated: {_names(saturated)}; worst "
                             f"{_label(worst)} with {worst['saturated']:.0%} of its values at the limits")
    dead = [r for r in finite_rows if r.get("dead") is not None and not r["record"].from_data
            and r["per_unit"] >= s["min_unit_samples"] and r["units"] > 0
            and r["dead"] / r["units"] >= s["dead_fraction"]]
    if dead:
        worst = max(dead, key=lambda r: r["dead"] / r["units"])
        result.add("DLC404", f"dead units (zero for every value seen) in {len(dead)} layer(s): "
                             f"{_names(dead)}; worst {_label(worst)} with {worst['dead']}/{worst['units']}")

    # gradients: first (closest to the input) against last layer
    if len(grad_body) >= 2 and all(math.isfinite(g) for _, g in grad_body):
        g_ratio = grad_first / grad_last
        if third == 1:
            span = f"{grad_body[0][0]} {grad_first:.3g} vs {grad_body[-1][0]} {grad_last:.3g}"
        else:
            span = (f"median of the first {third} layers, {grad_body[0][0]} to {grad_body[third - 1][0]}, "
                    f"{grad_first:.3g} vs the last {third}, {grad_body[-third][0]} to {grad_body[-1][0]}, "
                    f"{grad_last:.3g}")
        if g_ratio <= s["grad_vanish_ratio"]:
            result.add("DLC405", f"gradient norm of the first layers is {g_ratio:.2g}x the last ({span}){caveat}",
                       severity=soft)
        elif g_ratio >= s["grad_explode_ratio"]:
            result.add("DLC406", f"gradient norm of the first layers is {g_ratio:.2g}x the last ({span}){caveat}",
                       severity=soft)

    # weight scale against Xavier / He. Layers followed by normalisation are scale-free and skipped;
    # when the activations and gradients stay healthy an off-scale weight is a design choice
    # (TF-style 0.01 heads, ViT-style 0.02 init, fan-out init of squeeze-excite convs): info only.
    f = float(s["weight_scale_factor"])
    off = []
    for row, out, module, fin, wanted, normalised in weight_rows:
        w = wstd.get(row["record"].name, 0.0)
        if normalised or not w > 0 or not math.isfinite(w):
            continue
        if not any(1 / f <= w / ref <= f for ref in (1 / math.sqrt(fin), math.sqrt(2 / fin))):
            off.append((_label(row), w, wanted, fin))
    if off:
        name, w, wanted, fin = off[0]
        ref = math.sqrt(2 / fin) if wanted == "He" else 1 / math.sqrt(fin)
        more = f" (and {len(off) - 1} more layers)" if len(off) > 1 else ""
        trouble = {f.code for f in result.findings if f.severity != "info"} & \
            {"DLC401", "DLC402", "DLC403", "DLC405", "DLC406"}
        note = "" if trouble else "; the activations stay healthy, so this reads as a deliberate choice"
        result.add("DLC407", f"{name}: weight std {w:.3g} is {w / ref:.2g}x the {wanted} scale {ref:.3g} "
                             f"for fan-in {fin}{more}{note}", severity=None if trouble else "info")

    # one optimizer step: update / weight. Too high when most layers move a lot; too low only when
    # even the fastest layer barely moves (layer scale / zero-init branches keep some layers still)
    if ratios:
        med, top = statistics.median(ratios), max(ratios)
        if med >= s["update_high"]:
            result.add("DLC409", f"median update/weight ratio after one step is {med:.2g} at lr {ctx.lr:g} "
                                 f"(above {s['update_high']:g}; ~1e-3 is the rule of thumb): the LR is too high")
        elif top <= s["update_low"]:
            result.add("DLC409", f"the largest update/weight ratio after one step is {top:.2g} at lr {ctx.lr:g} "
                                 f"(below {s['update_low']:g}; ~1e-3 is the rule of thumb): the LR is too low")

    parts = [f"{len(weight_rows)} weight layers"]
    if len(stds) > 1:
        parts.append(f"activation std {stds[0]:.3g} -> {stds[-1]:.3g}")
    if len(grad_body) > 1:
        parts.append(f"grad norm first/last {grad_first / grad_last:.3g}")
    if ratios:
        parts.append(f"median update/weight {statistics.median(ratios):.2g}")
    if zero_grad:
        parts.append(f"{len(zero_grad)} parameters get exactly zero gradient at step 0 (a zero-initialised "
                     f"layer downstream, dead units, or unused)")
    result.summary = "; ".join(parts)
    return result


def _trend_share(stds: list[float]) -> tuple[float, float]:
    """Shares of layer-to-layer steps that shrink and that grow."""
    steps = list(zip(stds, stds[1:]))
    down = sum(1 for a, b in steps if b < a) / len(steps)
    up = sum(1 for a, b in steps if b > a) / len(steps)
    return down, up


def _label(row: dict) -> str:
    """'fc1 [Linear]', '3 [ReLU]', 'fc2 (input)': the name a user finds in the model's repr."""
    rec = row["record"]
    return rec.name if rec.kind == "input" else f"{rec.name} [{rec.type}]"


def _names(rows, shown: int = 4) -> str:
    return listing([_label(r) for r in rows], shown)


def _num(value):
    """4 significant digits for the report; non-finite stays a float (the JSON writer names it)."""
    if value is None:
        return None
    value = float(value)
    return float(f"{value:.4g}") if math.isfinite(value) else value


def _artifacts(ctx: Context, table: list[dict], param_rows: list[dict]) -> None:
    ctx.result.table("layers.csv", table)
    if param_rows:
        ctx.result.table("parameters.csv", param_rows)
    ctx.result.figure("layer_stats_by_depth", "activation std by depth", file="activation-std.png",
                      layers=[str(r["layer"]) for r in table], values=[r["std"] for r in table],
                      ylabel="activation std", title="init-stats: activation std by depth")
    grads = [r for r in table if r.get("grad_norm") is not None]
    if grads:
        ctx.result.figure("layer_stats_by_depth", "weight gradient norm by depth", file="grad-norm.png",
                          layers=[str(r["layer"]) for r in grads], values=[r["grad_norm"] for r in grads],
                          ylabel="weight gradient norm", title="init-stats: gradient norm by depth")
