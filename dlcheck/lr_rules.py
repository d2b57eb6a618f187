"""Suggesting a learning rate from an LR range-test curve: pure functions on plain lists.

The sweep (``checks/lr_find.py``) records one loss per learning rate; these functions smooth the
curve, cut it where the loss diverged, and read suggestions off it by several rules, because no
single rule wins everywhere (FACTS.md: steepest descent, a fastai-style valley and minimum/10
each fail on some task). Torch-free, so the benchmarks can score rules on stored curves.
"""

from __future__ import annotations

import math


def smooth(losses: list[float], beta: float) -> list[float]:
    """Exponential moving average with bias correction (fastai / torch-lr-finder style)."""
    out, avg = [], 0.0
    for i, value in enumerate(losses):
        avg = beta * avg + (1 - beta) * value
        out.append(avg / (1 - beta ** (i + 1)))
    return out


def divergence_index(smoothed: list[float], factor: float, skip: int = 0) -> int | None:
    """First index (after ``skip``) where the smoothed loss is non-finite or above ``factor`` x
    the best seen so far (above it by ``factor - 1`` x its magnitude, so that losses that can be
    negative, e.g. a Gaussian NLL, work too); ``None`` when it never diverges."""
    best = math.inf
    for i, value in enumerate(smoothed):
        if not math.isfinite(value):
            return i
        if i >= skip and value - best > (factor - 1) * abs(best):  # also for losses below zero
            return i
        best = min(best, value)
    return None


def steepest(lrs: list[float], smoothed: list[float]) -> int | None:
    """Index of the most negative slope of the smoothed loss against log10(lr) (central
    differences), or None when the loss never falls."""
    n = len(smoothed)
    if n < 3:
        return None
    logs = [math.log10(lr) for lr in lrs]
    best, where = 0.0, None
    for i in range(1, n - 1):
        slope = (smoothed[i + 1] - smoothed[i - 1]) / (logs[i + 1] - logs[i - 1])
        if slope < best:
            best, where = slope, i
    return where


def valley(smoothed: list[float]) -> int | None:
    """fastai's 'valley' rule: the longest decreasing subsequence of the loss marks a valley
    (its end, and a start as many points back as it is long); suggest a point half-way into the
    valley's middle third."""
    n = len(smoothed)
    if n < 3:
        return None
    length = [1] * n
    end = 0
    for i in range(1, n):
        for j in range(i):
            if smoothed[i] < smoothed[j] and length[j] + 1 > length[i]:
                length[i] = length[j] + 1
        if length[i] > length[end]:
            end = i
    if length[end] < 3:
        return None
    start = end - length[end]
    third = (end - start) / 3
    return max(0, start + int(third) + int(third / 2))


def minimum_over_ten(lrs: list[float], smoothed: list[float]) -> float | None:
    """A tenth of the learning rate at the smoothed curve's minimum (the classic rule)."""
    if not smoothed:
        return None
    i = min(range(len(smoothed)), key=lambda k: smoothed[k])
    return lrs[i] / 10 if i > 0 else None


def geometric_mean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values))


def spread(values: list[float]) -> float:
    """How far apart suggestions are: max / min (1.0 = they agree)."""
    return max(values) / min(values) if values else 1.0
