"""bn-gap's rules: numbers in, finding out (dlcheck/rules.py), one per finding code, and the
summary, metrics and details, all functions of :class:`Measured`."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from dlcheck.checks.bn_gap.measure import Measured
from dlcheck.results import Finding, listing, rounded
from dlcheck.rules import finding

Settings = Mapping[str, Any]


# -- rules: one per finding code ----------------------------------------------------------------
def no_batchnorm(m: Measured, task, s: Settings) -> Finding | None:
    """DLC508 (info): nothing to compare: no BatchNorm layer, or none that the model trains (the ones
    it keeps in eval mode in training, and FrozenBatchNorm2d, normalise with fixed statistics)."""
    if not m.layers:
        return finding("DLC508", f"{no_batchnorm_reason(m)}{'' if m.fixed else _uses(m)}; it behaves alike in train and eval "
                                 f"mode as far as normalisation goes")


def no_batchnorm_reason(m: Measured) -> str:
    """'the model has no BatchNorm layer', or which layers normalise with fixed statistics instead."""
    if not m.held and not m.fixed:
        return "the model has no BatchNorm layer"
    parts = []
    if m.held:
        parts.append(f"{_names(m.held)} {'is' if len(m.held) == 1 else 'are'} kept in eval mode by the model in "
                     f"training (frozen: the running statistics it was handed over with normalise in both modes)")
    if m.fixed:
        kinds = ", ".join(sorted(set(m.fixed.values())))
        parts.append(f"{_names(list(m.fixed))} ({kinds}) normalise{'s' if len(m.fixed) == 1 else ''} with fixed "
                     f"statistics")
    return f"the model has no BatchNorm layer that it trains: {'; '.join(parts)}"


def untracked(m: Measured, task, s: Settings) -> Finding | None:
    """DLC503: track_running_stats=False, so eval mode uses batch statistics too."""
    names = [r["name"] for r in m.layers if not r["track_running_stats"]]
    if names:
        return finding("DLC503", f"track_running_stats=False in {_names(names)}: eval mode normalises with "
                                 f"each batch's own statistics")


def momentum_zero(m: Measured, task, s: Settings) -> Finding | None:
    """DLC504: momentum 0 keeps the initial statistics for good."""
    names = [r["name"] for r in m.layers if r["track_running_stats"] and r["momentum"] == 0]
    if names:
        return finding("DLC504", f"momentum=0 in {_names(names)}: the running statistics never leave mean 0 / "
                                 f"var 1, so eval mode normalises with them")


def momentum_inverted(m: Measured, task, s: Settings) -> Finding | None:
    """DLC510: a momentum of ``high_momentum`` or more (the Keras convention by mistake?)."""
    high = float(s["high_momentum"])
    rows = [r for r in m.layers if r["track_running_stats"] and r["momentum"] is not None and r["momentum"] >= high]
    if rows:
        values = sorted({r["momentum"] for r in rows})
        return finding("DLC510", f"momentum={values[0]:g} in {_names([r['name'] for r in rows])}: the running "
                                 f"statistics follow the last {'batch' if values[0] >= 0.9 else 'few batches'} "
                                 f"almost alone")


def cumulative(m: Measured, task, s: Settings) -> Finding | None:
    """DLC509 (info): momentum=None, a cumulative average."""
    names = [r["name"] for r in m.layers if r["track_running_stats"] and r["momentum"] is None]
    if names:
        return finding("DLC509", f"momentum=None in {_names(names)}: a cumulative average over every batch "
                                 f"since the last reset")


def on_logits(m: Measured, task, s: Settings) -> Finding | None:
    """DLC501: a BN layer's output is the model's output."""
    if m.on_logits is not None:
        return finding("DLC501", f"'{m.on_logits}' normalises the model's output: its output tensor is the logits")


def bias_before_bn(m: Measured, task, s: Settings) -> Finding | None:
    """DLC502 (info): a conv/linear bias feeds straight into BN."""
    fed = [(r["name"], r["bias_from"]) for r in m.table if r["bias_from"]] if m.compared is not None else []
    if fed:
        pairs = ", ".join(f"'{src}' -> '{bn}'" for bn, src in fed[:3])
        pairs += f" and {len(fed) - 3} more" if len(fed) > 3 else ""
        return finding("DLC502", f"a bias feeds straight into BatchNorm in {pairs}: BN subtracts it again")


def batch_size(m: Measured, task, s: Settings) -> Finding | None:
    """DLC506: a batch of one (BN cannot run) or at most ``tiny_batch``; DLC505: below ``small_batch``."""
    if m.one_sample is not None:
        return finding("DLC506", f"batch size 1: BatchNorm in train mode needs more than one value per channel "
                                 f"(torch raised: {m.one_sample})")
    batch = m.batch_size if m.compared is not None else None
    if batch is not None and batch <= s["tiny_batch"]:
        return finding("DLC506", f"batch size {batch}: BatchNorm's batch statistics from {batch} "
                                 f"sample{'s' * (batch > 1)} are degenerate (fail at or below {s['tiny_batch']})")
    elif batch is not None and batch < s["small_batch"]:
        return finding("DLC505", f"batch size {batch} is small for BatchNorm (warn below {s['small_batch']})")


def not_measured(m: Measured, task, s: Settings) -> Finding | None:
    """DLC512 (info): BN layers whose own gap could not be measured."""
    unmeasured = m.unmeasured if m.compared is not None else {}
    if unmeasured:
        kinds = {r["name"]: r["kind"] for r in m.layers}
        shown = "; ".join(f"'{name}' ({kinds[name]}): {why}" for name, why in list(unmeasured.items())[:3])
        more = f"; and {len(unmeasured) - 3} more" if len(unmeasured) > 3 else ""
        return finding("DLC512", f"{len(unmeasured)} BatchNorm layer{'s' * (len(unmeasured) > 1)} not measured, "
                                 f"{'its' if len(unmeasured) == 1 else 'their'} own gap left out: {shown}{more}")


def val_one_class(m: Measured, task, s: Settings) -> Finding | None:
    """DLC511 (info): the val batches come sorted by class, so the gap was measured on train batches."""
    if m.compared is None or m.split == "val" or m.val_sizes is not None or m.one_class is None:
        return
    val_share, train_share = m.one_class
    return finding("DLC511", f"the val batches come sorted by class: one class makes up {val_share:.0%} of a val "
                             f"batch on average, {train_share:.0%} of a training batch; train-mode BatchNorm on "
                             f"such batches measures the sorting, not the model, so bn-gap compared on train "
                             f"batches")


def train_eval_gap(m: Measured, task, s: Settings) -> Finding | None:
    """DLC507: a BN layer's own train-vs-eval gap at ``warn_gap`` (warn) or ``fail_gap`` (fail)."""
    parts_at = m.parts_at(s["warn_gap"]) if m.compared is not None else None
    if parts_at is None:
        return
    gaps, worst = m.gaps, m.worst
    top = gaps[worst] if math.isfinite(gaps[worst]) else math.inf
    noisy = _noisy(m, worst, s) if math.isfinite(top) else None
    severity = "warn" if top < s["fail_gap"] or noisy else "fail"
    limit = s["fail_gap"] if severity == "fail" else s["warn_gap"]
    also = f", up to {top:.1%} at '{worst}'" if worst != parts_at else ""
    loss_train, loss_eval = m.losses
    why = ""
    if noisy:
        why = (f"; '{worst}' normalises only {noisy[0]} values per channel in training (batch {noisy[1]}"
               f"{f' x {noisy[2]} positions' if noisy[2] > 1 else ', maps of 1x1'}): batch statistics from that "
               f"few are noisy, and that noise is most of such a gap (a warning, not a failure, below "
               f"{s['noisy_values']} values)")
    return finding("DLC507", f"the modes part at '{parts_at}': its eval-mode output differs from its train-mode "
                             f"output by {gaps[parts_at]:.1%} on the same input{also} ({severity} at {limit:.0%})"
                             f"{_where(m)}; the model's output moves by {m.output_gap:.1%}, loss "
                             f"{loss_train:.3g} -> {loss_eval:.3g}{why}", severity=severity)


def _noisy(m: Measured, name: str, s: Settings) -> tuple[int, int, int] | None:
    """(values per channel, batch, positions) of a BN layer that normalised fewer than ``noisy_values``
    values per channel in training; None otherwise or when not known."""
    values, batch = m.values.get(name), m.batch.get(name)
    if not values or not batch or values >= s["noisy_values"]:
        return None
    return values, batch, values // batch


#: The rules judging the set-up alone, said before anything runs (kept if the measuring raises).
SETUP_RULES = (no_batchnorm, untracked, momentum_zero, momentum_inverted, cumulative)
#: The rules judging the measurement.
MEASURED_RULES = (on_logits, bias_before_bn, batch_size, not_measured, val_one_class, train_eval_gap)
#: The rules, in the order their findings are reported.
RULES = SETUP_RULES + MEASURED_RULES


# -- words, metrics, details ----------------------------------------------------------------------
def _names(names: list[str], shown: int = 3) -> str:
    return listing([f"'{n}'" for n in names], shown)


def _uses(m: Measured) -> str:
    others = m.other_norms
    return f"; it normalises with {', '.join(f'{n} x{k}' for n, k in sorted(others.items()))}" if others else ""


def _where(m: Measured) -> str:
    """What the gap was measured on, for the summary and DLC507; facts about batch sizes exact."""
    left = m.left_out or []
    short = ""
    if left:
        indices, sizes = (" and ".join(map(str, part)) for part in zip(*left))
        short = (f" (left out: {m.split} batch{'es' if len(left) > 1 else ''} {indices}, of {sizes} "
                 f"sample{'s' if left != [(left[0][0], 1)] else ''}, smaller than the training batches of "
                 f"{m.train_batch})")
    if m.split == "val":
        drawn = " drawn at random across the val set" if m.mixed else ""
        return f" on val batches{drawn}{short}"
    if m.val_sizes is not None:
        sizes = m.val_sizes
        of = " and ".join(map(str, sizes)) if len(sizes) <= 2 else listing(sizes, 3)
        return (f" on train batches (the val batches of {of} are smaller than the training batches of "
                f"{m.train_batch}){short}")
    if m.one_class is not None:
        return f" on train batches (the val batches come sorted by class){short}"
    return short


def _summary(m: Measured) -> str:
    if not m.layers:
        if m.held or m.fixed:
            return f"no BatchNorm layer that the model trains: nothing to compare{_uses(m)}"
        return f"no BatchNorm layer: nothing to compare{_uses(m)}"
    if m.one_sample is not None:
        return "batch size 1: BatchNorm cannot run in train mode"
    n = len(m.layers)
    agree = f", {round(m.sums['agree'] / m.sums['count'], 6):.0%} of predictions agree" if m.sums["count"] else ""
    worst = m.worst
    largest = f"; largest layer gap {m.gaps[worst]:.1%} at '{worst}'" if worst is not None else ""
    held = (f"; {_names(m.held)} kept in eval mode by the model in training: not warmed, not compared"
            if m.held else "")
    from dlcheck.modules import wrapped_note

    return (f"{n} BatchNorm layer{'s' if n != 1 else ''}{wrapped_note(m.wrapped)}, batch {m.batch_size}: eval mode "
            f"moves the output by {m.output_gap:.1%}{_where(m)}{agree}{largest}{held}")


def _metrics(m: Measured, s: Settings) -> dict:
    if not m.layers:
        return {"bn_layers": 0}
    if m.one_sample is not None:
        return {"batch_size": 1}
    sums, worst = m.sums, m.worst
    loss_train, loss_eval = m.losses
    metrics = {"bn_layers": len(m.layers), "batch_size": m.batch_size, "output_gap": rounded(m.output_gap),
               "loss_train_mode": rounded(loss_train), "loss_eval_mode": rounded(loss_eval),
               "compared_on": m.split, "compared_batches": m.compared, "warmup_batches": m.warmup,
               "largest_layer_gap": rounded(m.gaps[worst]) if worst is not None else None,
               "largest_gap_at": worst, "parts_at": m.parts_at(s["warn_gap"])}
    if sums["count"]:
        metrics["agreement"] = round(sums["agree"] / sums["count"], 6)
    if sums["labelled"]:
        metrics["accuracy_train_mode"] = round(sums["correct_train"] / sums["labelled"], 6)
        metrics["accuracy_eval_mode"] = round(sums["correct_eval"] / sums["labelled"], 6)
    metrics["left_out_batches"] = len(m.left_out or [])
    if m.split == "val":
        metrics["val_drawn_at_random"] = bool(m.mixed)
    elif m.val_sizes is not None:
        metrics["val_batch_size"] = m.val_sizes[0]
    elif m.one_class is not None:
        metrics["val_top_class_share"] = round(m.one_class[0], 4)
        metrics["train_top_class_share"] = round(m.one_class[1], 4)
    return metrics


def _details(m: Measured) -> dict:
    structure = {}
    if m.held:
        structure["bn_kept_in_eval"] = list(m.held)
    if m.fixed:
        structure["fixed_statistics_norms"] = dict(m.fixed)
    return {**structure, **_measured_details(m)}


def _measured_details(m: Measured) -> dict:
    if not m.layers:
        return {}
    if m.one_sample is not None:
        return {"bn_layers": list(m.layers)}
    details = {"bn_layers": m.table}
    if m.unmeasured:
        details["bn_not_measured"] = dict(m.unmeasured)
    if m.left_out:
        details["left_out_batches"] = [{"batch": i, "size": size} for i, size in m.left_out]
    return details
