"""overfit-small without a known floor (task `other`: a custom loss such as InfoNCE or a VAE's
ELBO, whose lowest reachable value dlcheck cannot know). No judgement assumes 0: the subset counts
as memorised when the loss's own course says so (a clear fall relative to its start that then
levels off within its noise), and a loss that keeps falling below any plausible value is
unbounded (a sign error, typically). Pure functions of the curve and the settings."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from dlcheck.checks.overfit_small.record import Trend, falling

Settings = Mapping[str, Any]


def first_pass(curve: list[float], n: int) -> float:
    """The mean loss of the first pass over the subset: the start the course is measured from."""
    head = curve[:max(n, 1)]
    return sum(head) / len(head) if head else math.nan


def fell_by(first: float, final: float) -> float:
    """How far the loss fell, as a share of its start's magnitude (no floor to measure from)."""
    return (first - final) / abs(first) if first else (math.inf if final < first else 0.0)


def levelled_off(first: float, final: float, trend: Trend | None, s: Settings) -> bool:
    """Memorised by the loss's own course: it fell by ``clear_fall`` of its start, then stopped
    falling (within its noise over the trend window) without going below 0 towards -inf; or a
    loss that stays at or above 0 fell by ``vanished_fall`` of its start (near its floor, whatever
    it is, even while it still creeps down towards it)."""
    if 0 <= final and 0 < first and fell_by(first, final) >= s["vanished_fall"]:
        return True
    return trend is not None and not falling(trend, s) and fell_by(first, final) >= s["clear_fall"]


def runaway(curve: list[float], n: int, s: Settings) -> bool:
    """The loss went to -inf, or below ``unbounded_factor`` x the magnitude of its start: no
    plausible loss of a sane objective gets there (judged while training, to stop early)."""
    if any(v == -math.inf for v in curve):
        return True
    finite = [v for v in curve if math.isfinite(v)]
    first = first_pass(finite, n)
    return bool(finite) and math.isfinite(first) \
        and min(finite) < -float(s["unbounded_factor"]) * max(abs(first), 1e-12)


def unbounded(curve: list[float], n: int, trend: Trend | None, s: Settings) -> bool:
    """The loss fell towards -inf: :func:`runaway`, or below 0 while still falling steeply when the
    run ended (the last window's fall at least ``unbounded_fall`` of its whole fall so far)."""
    if not curve:
        return False
    if runaway(curve, n, s):
        return True
    finite = [v for v in curve if math.isfinite(v)]
    if not finite:
        return False
    first = first_pass(finite, n)
    tail = finite[-max(n, 1):]
    final = sum(tail) / len(tail)
    if final >= 0 or trend is None or trend.t > -s["trend_t"]:
        return False
    window_fall = -trend.slope * trend.span
    return window_fall >= float(s["unbounded_fall"]) * (first - final)
