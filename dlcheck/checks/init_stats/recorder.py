"""The hook recorder: forward hooks on the weight layers (Linear, Conv) and activation modules
that reduce on the device (sums, norms, counts, per-unit maxima) and keep those small tensors;
``Recorder.summaries`` stacks them and moves them to the host once, at the end. Activations
applied functionally (``F.relu`` inside ``forward``) have no module: the input of the next weight
layer is measured instead."""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass, field

import torch
from torch import nn

from dlcheck.device import map_tensors
from dlcheck.state import Hooks

#: Layers with a weight whose scale the Xavier / He rules speak about.
WEIGHT_LAYERS = (nn.Linear, nn.modules.conv._ConvNd)


def _transposed_linear(module: nn.Module) -> bool:
    """Hugging Face's ``Conv1D`` (GPT-2 and its kin): a Linear whose weight is stored (in, out)."""
    weight = getattr(module, "weight", None)
    return (type(module).__name__ == "Conv1D" and type(module).__module__.startswith("transformers")
            and isinstance(weight, torch.Tensor) and weight.dim() == 2)


def weight_layer(module: nn.Module) -> bool:
    """A layer whose weight the Xavier / He rules speak about: Linear, Conv, HF's Conv1D."""
    return isinstance(module, WEIGHT_LAYERS) or _transposed_linear(module)


def features_last(module: nn.Module | None) -> bool:
    """Its units are the last axis (a Linear's features), not axis 1 (a conv's channels)."""
    return isinstance(module, nn.Linear) or (module is not None and _transposed_linear(module))
#: Units that output exact zeros: dead when zero for every sample.
RELU_FAMILY = (nn.ReLU, nn.ReLU6)
#: Bounded units and their (low, high) limits; ReLU6 is a Hardtanh subclass, matched first above.
BOUNDED = (nn.Tanh, nn.Sigmoid, nn.Hardtanh, nn.Hardsigmoid)
#: Other nonlinearities: He-family (ReLU-like) for the init rule; only mean/std are measured.
OTHER_ACTIVATIONS = (nn.GELU, nn.SiLU, nn.Hardswish, nn.LeakyReLU, nn.ELU, nn.CELU, nn.SELU,
                     nn.Mish, nn.PReLU, nn.Softplus, nn.RReLU)
NORMS = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm, nn.LocalResponseNorm)


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
    pooled: bool = False  # channel units of one position (N, C, 1, 1): a conv on a globally pooled map
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
        self._given: list[torch.Tensor] = []  # the tensors the model's forward was called with, this pass

    def attach(self, hooks: Hooks) -> "Recorder":
        hooks.add(self._model.register_forward_pre_hook(self._given_hook, with_kwargs=True))
        for name, module in self._model.named_modules():
            if weight_layer(module):
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
        self._given.clear()

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

    def _given_hook(self, mod, args, kwargs):
        """The model's own arguments (a model taking (x, t) may run its t branch first: x still is
        data when its first weight layer sees it)."""
        map_tensors((args, kwargs), self._given.append)

    def _input_hook(self, name, module):
        label, last = f"{name} (input)", features_last(module)

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
                rec.from_data = first or any(x is v for v in self._given)
            x = x.detach()
            self._moments(rec, x, self._unit_sums(rec, x, last))
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
                self._moments(rec, x, self._unit_sums(rec, x, features_last(self._last_weight)))
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
            rec.pooled = x.dim() >= 3 and not features_last and math.prod(x.shape[2:]) == 1
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
        return [_row(key, self.records[key], {k: numbers[i] for k, i in slot.items()})
                for key, slot in zip(keys, slots)]


def _row(key, rec, got: dict) -> dict:
    """One record's summary from its reduced numbers (``got``: sum, sq, n, and pos/sat/low/high/dead
    where the record keeps them)."""
    n = got["n"]
    mean = got["sum"] / n
    std = math.sqrt(max(got["sq"] / n - mean * mean, 0.0)) if math.isfinite(got["sq"]) else got["sq"]
    row = {"key": key, "record": rec, "mean": mean, "std": std,
           "finite": math.isfinite(got["sum"]) and math.isfinite(got["sq"])}
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
        row["dead"], row["units"], row["pooled"] = int(got["dead"]), rec.units, rec.pooled
        row["per_unit"] = n / rec.units if rec.units > 0 else 0
    return row
