"""overfit-small's rules: numbers in, finding out (dlcheck/rules.py).

A run is explained once, in the recipe's order: a loss without a known floor that fell towards
-inf (unbounded), divergence, memorised (the pass), outputs that
already are probabilities, frozen parameters, a loss still falling, a loss that never fell, and
else a stall. :func:`cause` names that explanation from the numbers; each rule says its code only
when the explanation is its own, so the findings are the ones the first explaining rule makes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from dlcheck.checks.overfit_small.course import fell_by, unbounded
from dlcheck.checks.overfit_small.measure import Measured
from dlcheck.checks.overfit_small.record import falling
from dlcheck.results import Finding, listing, rounded
from dlcheck.rules import finding
from dlcheck.task import Task

Settings = Mapping[str, Any]


def metrics(m: Measured) -> dict:
    out = {"steps": m.steps, "fit": m.fit_at is not None, "initial_loss": rounded(m.initial),
           "final_loss": rounded(m.final), "floor": rounded(m.refs.floor), "expected": rounded(m.refs.expected),
           "fit_loss": rounded(m.fit_loss), "lr": m.lr, "samples": m.samples}
    if m.accuracy is not None:
        out["final_accuracy"] = rounded(m.accuracy)
    left = sum(1 for name in m.unchanged if name not in m.frozen)
    out["unchanged_trainable"] = left or None  # parameters that require grad and never changed
    if m.trend is not None:
        out.update({"slope_per_step": rounded(m.trend.slope, 4), "trend_t": rounded(m.trend.t, 3),
                    "steps_needed": round(m.trend.steps_needed) if m.trend.steps_needed is not None
                    and math.isfinite(m.trend.steps_needed) else None})
    return {k: v for k, v in out.items() if v is not None}


def summary(m: Measured, s: Settings) -> str:
    if m.diverged_at is not None:
        return f"the loss became non-finite at step {m.diverged_at}"
    if cause(m, s) == "unbounded":
        return f"the loss is unbounded: it fell towards -inf ({_progress(m)})"
    more = f"; the budget of {s['max_steps']} was extended while the loss was on course" if m.extended else ""
    if m.fit_at is not None and not m.known_floor:
        fell = fell_by(m.first, m.final)
        how = "" if fell >= s["vanished_fall"] and m.final >= 0 else " and levelled off"
        return (f"memorised {_batches(m.batches)} in {m.fit_at} steps by the loss's own course: it fell "
                f"{fell:.0%}{how} ({_progress(m)}{more})")
    if m.fit_at is not None:
        return f"memorised {_batches(m.batches)} in {m.fit_at} steps ({_progress(m)}{more})"
    verb = {"still_falling": "not converged", "cut": "not judged"}.get(cause(m, s), "not memorised")
    cut = " (the time budget ended the run)" if m.timed_out else ""
    return f"{verb} after {m.steps} steps{cut}: {_progress(m)}"


# -- words --------------------------------------------------------------------------------------
def _batches(n: int) -> str:
    return f"{n} batch" if n == 1 else f"{n} batches"


def _progress(m: Measured) -> str:
    floor = f", floor {m.floor:.3g}" if m.refs.floor else "" if m.known_floor else \
        ", no known floor to compare with"
    acc = f", accuracy {_percent(m.accuracy)}" if m.accuracy is not None else ""
    return f"loss {m.initial:.3g} -> {m.final:.3g}{floor}{acc}"


def _percent(share: float) -> str:
    """100% only when it is: 0.997 is 99.7%."""
    return f"{share:.0%}" if share in (0.0, 1.0) else f"{min(share, 0.999):.1%}"


# -- which explanation the numbers give ---------------------------------------------------------
def _frozen_share(m: Measured) -> float:
    return sum(m.unchanged.values()) / m.total if m.total else 0.0


def _left_out_share(m: Measured) -> float:
    """The share of parameters that require grad and still never changed (left out of the
    optimizer, without a gradient): frozen by accident. Parameters frozen on purpose
    (requires_grad=False, a linear probe's backbone) count only when the rest cannot fit."""
    left = sum(n for name, n in m.unchanged.items() if name not in m.frozen)
    return left / m.total if m.total else 0.0


def _still_falling(m: Measured, s: Settings) -> bool:
    """Clearly falling at the end of the run; when --budget ended it, falling at all (a few steps
    of a large model are too few to tell a stall from noise: not converged, never stalled)."""
    if m.timed_out:
        return m.trend is not None and m.trend.slope < 0 and not _flat(m, s)
    return m.trend is not None and (falling(m.trend, s) or _bumpy_fall(m, s))


def _bumpy_fall(m: Measured, s: Settings) -> bool:
    """The end window fell by ``min_progress`` but within its own noise (a transient bump in it, as
    Adam gives a recurrent net), and over the wider window the loss clearly falls: not a stall (an
    LSTM forecaster's loss kept falling by a third in the next 500 steps)."""
    t, wide = m.trend, m.trend_wide
    return t.slope < 0 and t.drop >= s["min_progress"] and wide is not None and falling(wide, s)


def cause(m: Measured, s: Settings) -> str:
    """The first explanation of the run, in the recipe's order."""
    if not m.known_floor and unbounded(m.curve, m.batches, m.trend, s):
        return "unbounded"
    if m.diverged_at is not None:
        return "diverged"
    if m.fit_at is not None:
        return "memorised"
    if m.probabilities:
        return "probabilities"
    if _frozen_share(m) >= s["frozen_fraction"] and (_left_out_share(m) >= s["frozen_fraction"]
                                                     or not _still_falling(m, s)):
        return "frozen"
    if m.timed_out and m.trend is None:
        return "cut"  # --budget ended it before the trend could be read: DLC003 says so, nothing else
    if _still_falling(m, s):
        return "still_falling"
    if _flat(m, s):
        return "flat"
    return "stalled"


def _flat(m: Measured, s: Settings) -> bool:
    """The loss did not fall: relative to the floor, or without one to its start's magnitude."""
    if not m.known_floor:  # a fall within the first pass (from the loss at step 0) is a fall too
        return max(fell_by(m.first, m.final), fell_by(m.initial, m.final)) < 1 - s["flat_fraction"]
    return (m.final - m.floor) >= s["flat_fraction"] * (m.initial - m.floor)


# -- rules: one per finding code ----------------------------------------------------------------
def nothing_to_learn(m: None, task: Task, s: Settings) -> Finding | None:
    """DLC208: the loss is identically 0 whatever the model does (judged without measuring)."""
    if task.problem:
        return finding("DLC208", f"{task.loss}: {task.problem}")


def regularisation_off(m: Measured, task: Task, s: Settings) -> Finding | None:
    """DLC207 (info): what was turned off for the run."""
    if m.turned_off:
        return finding("DLC207", f"turned off for this run: {', '.join(sorted(m.turned_off))}")


def unbounded_loss(m: Measured, task: Task, s: Settings) -> Finding | None:
    """DLC210: with no known floor, the loss fell towards -inf (a sign error, typically)."""
    if cause(m, s) != "unbounded":
        return None
    finite = [v for v in m.curve if math.isfinite(v)]
    lowest = f"{min(finite):.3g}" if finite else "-inf"
    return finding("DLC210", f"the loss is unbounded below: it fell from {m.initial:.3g} to {lowest} in "
                             f"{m.steps} steps and kept falling, below any plausible value of a sane "
                             f"loss (e.g. a sign error in a KL term)")


def diverged(m: Measured, task: Task, s: Settings) -> Finding | None:
    """DLC202: NaN/Inf."""
    if cause(m, s) == "diverged":
        return finding("DLC202", f"the loss became NaN/Inf at step {m.diverged_at} (lr {m.lr:g})")


def slow(m: Measured, task: Task, s: Settings) -> Finding | None:
    """DLC206: memorised, but only after many steps. Hard labels are memorised in a few hundred
    steps; fitting continuous or per-token targets closely takes longer in healthy set-ups, so
    there it is a note."""
    if cause(m, s) == "memorised" and m.fit_at > s["slow_steps"]:
        severity = None if task.hard_labels and not task.per_position else "info"
        return finding("DLC206", f"the subset was fit only after {m.fit_at} steps", severity=severity)


def probabilities(m: Measured, task: Task, s: Settings) -> Finding | None:
    """DLC203: softmax/sigmoid outputs into a loss that applies its own."""
    if cause(m, s) != "probabilities":
        return None
    what = ("non-negative and sum to 1 per sample: a softmax runs before CrossEntropyLoss"
            if task.kind == "classification" else "all in [0, 1]: a sigmoid runs before BCEWithLogitsLoss")
    return finding("DLC203", f"the model's outputs are {what}, which applies its own")


def frozen(m: Measured, task: Task, s: Settings) -> Finding | None:
    """DLC204: most parameters never changed. Those that require grad and still never changed
    (without a gradient, or missing from the optimizer) are named first and apart from those frozen
    on purpose: under a frozen base (LoRA adapters, a probe) they are the bug, however few."""
    if cause(m, s) != "frozen":
        return None
    names = sorted(m.unchanged, key=m.unchanged.get, reverse=True)
    left = [n for n in names if n not in m.frozen]
    said = [n for n in names if n in m.frozen]
    if left and said:
        return finding("DLC204", f"{_percent(_frozen_share(m))} of the parameters never changed: {len(left)} that "
                                 f"require grad ({listing(left)}), without gradient or missing from the optimizer, "
                                 f"and {len(said)} frozen (requires_grad=False: {listing(said)})")
    return finding("DLC204", f"{_percent(_frozen_share(m))} of the parameters never changed ({listing(names)}): "
                             f"frozen, without gradient, or missing from the optimizer")


def still_falling(m: Measured, task: Task, s: Settings) -> Finding | None:
    """DLC209 (warn): the budget (of steps, or --budget's time) ran out while the loss was still falling."""
    if cause(m, s) != "still_falling":
        return None
    needed = m.trend.steps_needed
    rate = f"falling {-m.trend.slope * 100:.2g} per 100 steps"
    more = f"; at that rate about {needed:.0f} more steps" if needed is not None and math.isfinite(needed) else ""
    target = f", memorised at {m.fit_loss:.3g}" if m.fit_loss is not None else ", no known floor"
    within = f"the time budget ({m.steps} steps)" if m.timed_out else f"{m.steps} steps"
    raise_ = "raise --budget" if m.timed_out else f"raise --max-steps (e.g. to {_suggest_steps(m)})"
    return finding("DLC209", f"not converged within {within}: the loss is still {rate} "
                             f"(at {m.final:.3g}{target}{more})",
                   advice=f"{raise_} or try a higher learning rate (now {m.lr:g}; see dlcheck lr-find)")


def flat(m: Measured, task: Task, s: Settings) -> Finding | None:
    """DLC201: the loss did not fall at all (relative to the floor)."""
    if cause(m, s) == "flat":
        return finding("DLC201", f"the loss did not fall: {m.initial:.3g} -> {m.final:.3g} in {m.steps} "
                                 f"steps at lr {m.lr:g}")


def stalled(m: Measured, task: Task, s: Settings) -> Finding | None:
    """DLC205: fell, then flat within its own noise, far above the floor."""
    if cause(m, s) != "stalled":
        return None
    if not m.known_floor:  # the fall memorised is judged by: from the first pass's mean (course.py)
        return finding("DLC205", f"the loss levelled off at {m.final:.3g}, {fell_by(m.first, m.final):.0%} below "
                                 f"its first pass over the subset ({m.first:.3g}; {m.initial:.3g} at step 0), under "
                                 f"the {s['clear_fall']:.0%} fall that counts as memorised; with no known floor "
                                 f"dlcheck cannot tell memorised from stalled", severity="warn",
                       advice="if your loss's lowest value on these batches is near this level, the subset is "
                              "memorised; else check the model's capacity and try dlcheck lr-find")
    floor = f" (floor {m.floor:.3g})" if m.refs.floor else ""
    return finding("DLC205", f"the loss fell from {m.initial:.3g} but stalled at {m.final:.3g}{floor}: flat "
                             f"within its noise over the last {round(s['trend_window'] * 100)}% of the run")


#: The rules, in the order their findings are reported.
RULES = (regularisation_off, unbounded_loss, diverged, slow, probabilities, frozen, still_falling, flat, stalled)


def _suggest_steps(m: Measured) -> int:
    needed = m.trend.steps_needed if m.trend and m.trend.steps_needed is not None else m.steps
    total = m.steps + (needed if math.isfinite(needed) else m.steps)
    return int(min(max(2 * m.steps, 1.5 * total), 100 * m.steps) // 100 * 100) or 2 * m.steps
