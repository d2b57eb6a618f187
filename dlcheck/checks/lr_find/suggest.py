"""lr-find's reading of the sweep: the suggestion rules and their blend, and which of the numbers
the verdict rests on (whether the sweep and a run fell, whether your LR needs a run of its own).
Pure functions of the measured numbers, used by the measuring and the rules alike."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from dlcheck import lr_rules
from dlcheck.lr_rules import Curve, Run

if TYPE_CHECKING:
    from dlcheck.checks.lr_find.measure import Evidence

Settings = Mapping[str, Any]


def sweep_fell(curve: Curve, s: Settings) -> bool:
    return curve.fell(float(s["min_fall"]), float(s["noise_z"]))


def run_fell(run: Run, share: float, s: Settings) -> bool:
    return run.fell(share, float(s["noise_z"]))


def onset(curve: Curve, s: Settings) -> int | None:
    """The first point measurably below the loss at init (the rules read the curve from there)."""
    return curve.onset(float(s["onset_fall"]), float(s["noise_z"]))


def usable(ev: Evidence, s: Settings) -> bool:
    """Enough points before the divergence to read the curve (else DLC305)."""
    return ev.curve.usable >= int(s["min_points"])


def runs_of(ev: Evidence) -> list[Run]:
    """The fixed-LR runs made: the probe's, and the one at your LR."""
    return [r for r in (ev.probe or []) + ([ev.yours] if ev.yours else []) if r is not None]


def fell_runs(ev: Evidence, s: Settings) -> list[Run]:
    return [r for r in runs_of(ev) if run_fell(r, float(s["min_fall"]), s)]


def best_run(ev: Evidence, s: Settings) -> Run | None:
    """After a sweep without a fall: the fixed-LR run that brought the loss furthest down."""
    fell = fell_runs(ev, s)
    return max(fell, key=lambda r: r.fall) if fell else None


def read(ev: Evidence, s: Settings) -> None:
    """Fill ``ev.rules`` (every rule's suggestion from where the loss measurably moved) and
    ``ev.suggested`` (their blend; after a sweep without a fall, the best fixed-LR run's LR)."""
    c = ev.curve
    if not usable(ev, s):
        return
    if not sweep_fell(c, s):
        best = best_run(ev, s)
        ev.suggested = best.lr if best is not None else None
        return
    first = onset(c, s)
    start = max(c.window, first - 1) if first is not None else c.window
    ev.rules = suggestions(c.lrs[start:c.usable], c.smoothed[start:c.usable], lowest=c.best_index - start)
    if ev.rules:
        ev.suggested = primary({name: ev.rules[name] for name in blended(ev)} or ev.rules)
        if ev.plain_sgd:  # its best fixed LR sits nearer the edge of stability; never past the sweep's lowest point
            ev.suggested = max(ev.suggested, min(ev.suggested * float(s["plain_sgd_factor"]), c.lrs[c.best_index]))


def your_run_judges(ev: Evidence, s: Settings) -> bool:
    """Your LR is far below the suggestion, the sweep was not yet falling at it, and you chose it:
    a short run at it decides whether it trains (DLC303)."""
    c, lr, suggested = ev.curve, ev.lr, ev.suggested
    if suggested is None or (c.diverge_lr is not None and lr >= c.diverge_lr):
        return False
    if lr * float(s["far_below"]) >= suggested:
        return False
    first = onset(c, s)
    if first is not None and c.lrs[first] <= lr:
        return False
    return ev.configured


def suggestions(lrs: list[float], smoothed: list[float], lowest: int | None = None) -> dict[str, float]:
    """Every rule's suggestion on a smoothed, divergence-cut curve (rules that find nothing are left
    out). Steepest descent looks only up to the curve's lowest point (index ``lowest``): a fall
    after it is a recovery from a spike, not what the LR does."""
    out = {}
    end = len(smoothed) if lowest is None else max(0, min(len(smoothed), lowest + 2))
    i = lr_rules.steepest(lrs[:end], smoothed[:end])
    if i is not None:
        out["steepest"] = lrs[i]
    i = lr_rules.valley(smoothed)
    if i is not None:
        out["valley"] = lrs[i]
    lr = lr_rules.minimum_over_ten(lrs, smoothed)
    if lr is not None:
        out["minimum/10"] = lr
    return out


#: The rules the one suggestion is made of, with their weights in log-LR. On the grid-oracle
#: benchmark (benchmarks/lr_quality.py) steepest descent sits above the best LR and minimum/10
#: below it, the best LR about a third of the way up from minimum/10; the weights were calibrated
#: there (and checked on a task held out of the calibration). The valley rule is reported but not
#: blended: it swings by decades.
BLEND = {"steepest": 1.0, "minimum/10": 2.0}


def open_ended(curve: Curve) -> bool:
    """The sweep never diverged and its lowest point is its last: the minimum minimum/10 reads is
    where the LRs ran out, not where the loss turned up (an embedding model whose normalised
    outputs keep the loss bounded at any LR, say)."""
    return curve.diverge_lr is None and curve.usable > 0 and curve.best_index >= curve.usable - 1


def blended(ev: Evidence) -> list[str]:
    """The rules the suggestion blends: BLEND's that found something, less minimum/10 on an
    open-ended sweep."""
    return [name for name in ev.rules if name in BLEND and not (name == "minimum/10" and open_ended(ev.curve))]


def primary(rules: dict[str, float]) -> float:
    """The one suggestion: the weighted geometric mean of the BLEND rules that found something
    (else the plain geometric mean of all)."""
    chosen = {name: lr for name, lr in rules.items() if name in BLEND}
    if not chosen:
        return lr_rules.geometric_mean(list(rules.values()))
    total = sum(BLEND[name] for name in chosen)
    return math.exp(sum(BLEND[name] * math.log(lr) for name, lr in chosen.items()) / total)

