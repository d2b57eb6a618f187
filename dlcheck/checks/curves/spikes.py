"""curves' loss-spike rule (DLC959): the training loss of every step (``Curves.losses``) against the
median of the steps just before, as LLM training stacks watch for spikes. A spike is the loss
``spike_ratio`` times that median (both above the floor) and above it by ``spike_share`` of the
loss at init above the floor, for ``spike_steps`` steps in a row: one noisy small batch, or a
loss near 0 that doubles, is not one."""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dlcheck.checks.curves.measure import Curves
from dlcheck.results import Finding
from dlcheck.rules import finding


@dataclass
class Spike:
    start: int  # the first step of the spike (1-based, as the steps are counted)
    steps: int  # steps in a row above the threshold
    baseline: float  # the median of the steps before
    peak: float
    peak_step: int


def _scale(c: Curves) -> float:
    """The loss at init above the floor: what a spike's height is measured against."""
    floor, expected = c.floor, c.refs.expected
    if expected is not None and expected > floor:
        return expected - floor
    first = c.points[0]["val_loss"] if c.points else None
    return max((first or 0.0) - floor, 1e-12)


def spikes(c: Curves, s: Mapping[str, Any]) -> list[Spike]:
    """Every spike in the step losses, in order."""
    losses, floor = c.losses, c.floor
    window, run = int(s["spike_window"]), max(1, int(s["spike_steps"]))
    ratio, least = float(s["spike_ratio"]), float(s["spike_share"]) * _scale(c)
    found, i = [], window
    while i < len(losses):
        base = statistics.median(losses[i - window:i])
        n = 0
        while i + n < len(losses) and losses[i + n] - floor > ratio * max(base - floor, 0.0) \
                and losses[i + n] - base > least:
            n += 1
        if n >= run:
            peak = max(range(i, i + n), key=lambda j: losses[j])
            found.append(Spike(start=i + 1, steps=n, baseline=base, peak=losses[peak], peak_step=peak + 1))
        i += max(n, 1)
    return found


def loss_spike(c: Curves, task, s: Mapping[str, Any]) -> Finding | None:
    """DLC959 (warn): the training loss several times its recent median for a few steps in a row."""
    found = spikes(c, s)
    if not found:
        return None
    first = found[0]
    later = ", ".join(str(x.start) for x in found[1:6]) + (", ..." if len(found) > 6 else "")
    more = f"; {len(found) - 1} more spike(s), at step(s) {later}" if len(found) > 1 else ""
    return finding("DLC959", f"the training loss spiked at step {first.start} (epoch {first.start / c.per_epoch:.3g}): "
                             f"{first.steps} steps in a row at {float(s['spike_ratio']):g}x or more the median of the "
                             f"{int(s['spike_window'])} steps before ({first.baseline:.3g}), peaking at "
                             f"{first.peak:.3g} at step {first.peak_step}{more}")
