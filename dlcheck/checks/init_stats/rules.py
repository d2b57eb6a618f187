"""init-stats' pure rules, one per finding code, on the numbers of :class:`Measured`; the layer
table, metrics and summary are functions of the same numbers."""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping
from typing import Any

from dlcheck.checks.init_stats.measure import Measured, Stream
from dlcheck.results import Finding, listing
from dlcheck.rules import finding

Settings = Mapping[str, Any]

#: The layer table's columns, in order (columns empty for every layer are left out).
COLUMNS = ("layer", "type", "mean", "std", "zeros", "dead", "saturated", "w_std", "xavier", "he", "init",
           "grad_norm", "update_ratio")


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


def unreached(m: Measured) -> list[str]:
    """The weight layers no forward hook saw (inside a compiled submodule, or not used)."""
    seen = {st.name for st in weight_layers(m)}
    return [name for name in m.layers if name not in seen]


def not_measured(m: Measured) -> str | None:
    """Why nothing was measured although the model has weight layers (None when something was)."""
    missing = unreached(m)
    if not m.layers or len(missing) < len(m.layers):
        return None
    inside = (f": they sit inside compiled submodules ({listing([repr(n) for n in m.compiled], 3)}), whose "
              f"compiled graphs run without forward hooks; compile the whole model (dlcheck measures the module "
              f"torch.compile wraps) or hand it over uncompiled") if m.compiled else ""
    return f"no forward hook fired on any of the {len(m.layers)} weight layers{inside}"


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
    """DLC404: units zero for every value seen (only with enough values per unit). Not on a
    globally pooled map (a squeeze-excitation block's reduce conv): its one value per sample and
    channel is a weighted sum of (mostly non-negative) channel means that the samples largely share,
    so its sign follows the weights more than the sample: a share of such channels is dead at every
    healthy init (timm's and torchvision's MobileNetV3), and no init or bias advice would change it."""
    dead = [st for st in m.streams if st.finite and st.dead is not None and not st.from_data and not st.pooled
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
    skipped, and so are frozen layers (requires_grad=False: a pretrained base under adapters or a
    probe, whose weights are loaded, not initialised, and which no re-init could mend); when the
    activations and gradients stay healthy an off-scale weight is a design choice (TF-style 0.01
    heads, ViT-style 0.02 init, fan-out init of squeeze-excite convs): info."""
    f = float(s["weight_scale_factor"])
    off = [st for st in weight_layers(m) if not (st.normalised or st.frozen) and 0 < st.w_std < math.inf
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
    from dlcheck.modules import wrapped_note

    reason = not_measured(m)
    if reason is not None:
        return f"not measured: {reason}"
    missing = unreached(m)
    parts = [f"{len(weight_layers(m))} weight layers{wrapped_note(m.wrapped)}"
             + (f" ({len(missing)} not reached: {listing(missing, 3)})" if missing else "")]
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
