"""init-stats' fixes for ``--verify-fixes`` (dlcheck.fixes): He (kaiming) or Xavier
re-initialisation of the weight layers, each for the nonlinearity that follows it, as init-stats
measures it (measure.py: ReLU-like units call for He, tanh / sigmoid / none for Xavier)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch import nn

#: Pasteable lines: layers sharing one init call beyond this many become a loop over a list.
LOOP_FROM = 4


@dataclass(frozen=True)
class Init:
    """One layer's re-initialisation: He (``kaiming_normal_``, fan-in, ReLU gain) or Xavier
    (``xavier_normal_``) with the gain of the nonlinearity that follows (tanh 5/3, else 1)."""

    name: str  # the module's name in the model (``layers.0``)
    scheme: str  # "He" | "Xavier"
    nonlinearity: str  # "relu" for He; "tanh" | "sigmoid" | "linear" for Xavier
    weight_in_out: bool = False  # Hugging Face's Conv1D: weight stored (in, out)

    def apply(self, module: nn.Module) -> None:
        import torch

        with torch.no_grad():
            if self.scheme == "He":
                nn.init.kaiming_normal_(module.weight, mode="fan_out" if self.weight_in_out else "fan_in",
                                        nonlinearity="relu")
            else:
                nn.init.xavier_normal_(module.weight, gain=nn.init.calculate_gain(self.nonlinearity))

    def call(self, weight: str) -> str:
        """The init call on ``weight`` (an expression), as a user writes it."""
        if self.scheme == "He":
            mode = 'mode="fan_out", ' if self.weight_in_out else ""
            return f'nn.init.kaiming_normal_({weight}, {mode}nonlinearity="relu")'
        gain = f', gain=nn.init.calculate_gain("{self.nonlinearity}")' if self.nonlinearity == "tanh" else ""
        return f"nn.init.xavier_normal_({weight}{gain})"


def _gain_of(streams, index: int) -> str:
    """The Xavier nonlinearity after the weight layer at ``streams[index]``: the first stream after
    it that init-stats' choice of init rests on (measure._following, norms aside)."""
    for st in streams[index + 1:]:
        if st.kind == "bounded":
            return "tanh" if st.type in ("Tanh", "Hardtanh") else "sigmoid"
        if st.kind == "input":  # a functional activation: tanh-like values in [-1, 1] with negatives
            return "tanh" if st.saturated is not None else "linear"
        if st.kind in ("relu", "act", "weight"):
            return "linear"
    return "linear"


def _off_scale(st, factor: float) -> bool:
    """DLC407's test: the weight std beyond ``factor`` of both the Xavier and the He scale."""
    return st.w_std > 0 and math.isfinite(st.w_std) and not any(
        1 / factor <= st.w_std / ref <= factor for ref in (1 / math.sqrt(st.fan_in), math.sqrt(2 / st.fan_in)))


def plan(m, settings, weight_in_out: frozenset = frozenset()) -> list[Init]:
    """The layers to re-initialise, in depth order: the body (every weight layer but the head,
    where the trend through depth is judged) and any layer off both scales (DLC407), the head
    included; never a frozen layer (its weights are loaded, and it would not train after a re-init).
    ``weight_in_out``: the layers whose weight is stored (in, out) (HF's Conv1D)."""
    from dlcheck.checks.init_stats.rules import body

    in_body = {st.name for st in body(m)}
    factor = float(settings["weight_scale_factor"])
    out = []
    for i, st in enumerate(m.streams):
        if st.layer and not st.frozen and (st.name in in_body or _off_scale(st, factor)):
            nonlinearity = "relu" if st.init == "He" else _gain_of(m.streams, i)
            out.append(Init(st.name, st.init or "Xavier", nonlinearity, st.name in weight_in_out))
    return out


def lines(inits: list[Init]) -> str:
    """The lines a user pastes: one init call per layer, or a loop over a list when many share one."""
    from dlcheck import fixes

    groups: dict[Init, list[str]] = {}
    for init in inits:
        groups.setdefault(Init("", init.scheme, init.nonlinearity, init.weight_in_out), []).append(init.name)
    out = []
    for init, names in groups.items():
        paths = [fixes.attribute_path(n) for n in names]
        if len(paths) >= LOOP_FROM:
            out.append(f"for layer in [{', '.join(paths)}]: {init.call('layer.weight')}")
        else:
            out += [init.call(f"{p}.weight") for p in paths]
    return "; ".join(out)


def reinit_for_activation(given):
    """Re-initialise the body's weight layers (and any layer far off both scales) with He
    (``kaiming_normal_``, for ReLU-like units) or Xavier (``xavier_normal_`` with the gain of a
    following tanh / sigmoid, or none), as init-stats reads the nonlinearity after each."""
    from dlcheck import fixes
    from dlcheck.checks.init_stats.measure import measure
    from dlcheck.checks.init_stats.recorder import features_last, weight_layer
    from dlcheck.modules import unwrap

    m = measure(given.ctx)
    with given.ctx.model() as handed:
        in_out = frozenset(n for n, mod in unwrap(handed)[0].named_modules()
                           if weight_layer(mod) and features_last(mod) and not isinstance(mod, nn.Linear))
    inits = plan(m, given.ctx.settings, in_out)
    if not inits:
        return None

    def change(model):
        inner = unwrap(model)[0]
        for init in inits:
            init.apply(inner.get_submodule(init.name))
        return model

    return fixes.Applied(fixes.with_model(given.target, change), lines(inits))


#: finding code -> the fix --verify-fixes tries for it (dlcheck.fixes)
FIXES = {code: reinit_for_activation for code in ("DLC401", "DLC402", "DLC403", "DLC405", "DLC406", "DLC407")}
