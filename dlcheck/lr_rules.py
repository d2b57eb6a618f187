"""Suggesting a learning rate from an LR range-test curve: pure functions on plain lists.

The sweep (``checks/lr_find.py``) records one loss per learning rate; these functions smooth the
curve, cut it where the loss diverged, and read suggestions off it by several rules, because no
single rule wins everywhere (FACTS.md: steepest descent, a fastai-style valley and minimum/10
each fail on some task). ``Curve`` and ``Run`` hold what a sweep and a short fixed-LR training
measured, judged against the loss at init, its noise and the task's floor. Torch-free, so the
benchmarks can score rules on stored curves.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass


def smooth(losses: list[float], beta: float) -> list[float]:
    """Exponential moving average with bias correction (fastai / torch-lr-finder style)."""
    out, avg = [], 0.0
    for i, value in enumerate(losses):
        avg = beta * avg + (1 - beta) * value
        out.append(avg / (1 - beta ** (i + 1)))
    return out


def divergence_index(smoothed: list[float], factor: float, skip: int = 0, floor: float | None = None,
                     initial: float | None = None, margin: float = 0.0, settle: int = 0) -> int | None:
    """First index (after ``skip``) where the smoothed loss is non-finite or above ``factor`` x
    the best seen so far, both measured from the task's ``floor`` (label smoothing's floor is far
    above 0); without a floor, above the best by ``factor - 1`` x its magnitude, so that losses
    that can be negative, e.g. a Gaussian NLL, work too. Given the loss at init, also where the
    loss climbs back above it after having fallen more than ``margin`` below it (points from
    ``settle`` on: a model that dies at a high LR goes back to about ln C, never to 4x the best).
    ``None`` when it never diverges."""
    scan = Divergence(factor, skip, floor, initial, margin, settle)
    return next((i for i, value in enumerate(smoothed) if scan.diverged(i, value)), None)


class Divergence:
    """:func:`divergence_index` one point at a time: ``diverged(i, value)`` for i = 0, 1, ...
    (the state is the best and the settled loss so far), so that a sweep scans each point once."""

    def __init__(self, factor: float, skip: int = 0, floor: float | None = None, initial: float | None = None,
                 margin: float = 0.0, settle: int = 0):
        self.factor, self.skip, self.floor, self.initial = factor, skip, floor, initial
        self.margin, self.settle = margin, settle
        self.best, self.settled = math.inf, math.inf

    def diverged(self, i: int, value: float) -> bool:
        if not math.isfinite(value):
            return True
        best, floor = self.best, self.floor
        if i >= self.skip:
            gap = best - floor if floor is not None and best > floor else abs(best)
            if value - best > (self.factor - 1) * gap:  # also for losses below zero
                return True
        if self.initial is not None and i >= self.settle:
            if self.settled < self.initial - self.margin and value > self.initial:
                return True
            self.settled = min(self.settled, value)
        self.best = min(best, value)
        return False


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
    valley's middle third. The longest strictly decreasing run ending at each point by patience
    sorting (O(n log n)); its end is the first point where the longest is reached."""
    n = len(smoothed)
    if n < 3:
        return None
    tails: list[float] = []  # tails[k]: -(the highest last value of a decreasing run of k + 1 points)
    longest, end = 0, 0
    for i, value in enumerate(smoothed):
        length = 1
        if value == value:  # a NaN extends nothing and is extended by nothing
            k = bisect.bisect_left(tails, -value)
            length = k + 1
            if k == len(tails):
                tails.append(-value)
            else:
                tails[k] = -value
        if length > longest:
            longest, end = length, i
    if longest < 3:
        return None
    start = end - longest
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


# -- the measured curve and short runs: what every lr-find rule reads ---------------------------
def noise_of(losses: list[float]) -> float:
    """The standard deviation of one batch's loss, from successive differences (a slow trend,
    e.g. a linear sweep already training, hardly counts): sqrt(mean(d^2) / 2)."""
    diffs = [b - a for a, b in zip(losses, losses[1:]) if math.isfinite(a) and math.isfinite(b)]
    return math.sqrt(sum(d * d for d in diffs) / (2 * len(diffs))) if diffs else 0.0


def span_of(initial: float, floor: float | None) -> float:
    """The room the loss has to fall: from the loss at init down to the task's floor; the loss's
    own magnitude where the floor is unknown (or not below the start)."""
    if floor is not None and initial - floor > 0:
        return initial - floor
    return abs(initial) or 1.0


@dataclass
class Curve:
    """One LR sweep, measured. Plain numbers; every rule of lr-find reads this."""

    lrs: list[float]  # the LR of each step, up to the last step recorded
    losses: list[float]  # raw, one per step
    smoothed: list[float]  # EMA, bias-corrected
    usable: int  # points before the divergence (all of them when it never diverged)
    diverge_lr: float | None  # the LR where the smoothed loss diverged, None when it never did
    window: int  # the first steps, at LRs too small to train: the loss at init and its noise
    initial: float  # mean raw loss over the window: the loss at init
    noise: float  # std of one batch's loss at init
    floor: float | None  # the task's lowest reachable loss in the loss's units (None: unknown)
    beta: float  # the EMA's smoothing

    @property
    def span(self) -> float:
        return span_of(self.initial, self.floor)

    def share(self, loss: float) -> float:
        """How far down ``loss`` is from the loss at init, as a share of the way to the floor."""
        return (self.initial - loss) / self.span

    def band(self, z: float) -> float:
        """The smallest fall of the smoothed curve below ``initial`` that noise does not explain:
        z standard errors of (window mean - one smoothed point)."""
        return z * self.noise * math.sqrt(1 / self.window + (1 - self.beta) / (1 + self.beta))

    @property
    def best_index(self) -> int:
        """Where the smoothed curve is lowest before the divergence (after the window, whose
        first points are nearly raw losses)."""
        lo = self.window if self.usable > self.window else 0
        finite = [i for i in range(lo, self.usable) if math.isfinite(self.smoothed[i])]
        return min(finite, key=lambda i: self.smoothed[i]) if finite else 0

    @property
    def best(self) -> float:
        return self.smoothed[self.best_index]

    @property
    def fall(self) -> float:
        """The best point's fall as a share of the way from the loss at init to the floor."""
        return self.share(self.best)

    def fell(self, min_share: float, z: float) -> bool:
        """The sweep made the loss fall: by at least ``min_share`` of the way to the floor, and by
        more than noise explains."""
        return self.fall >= min_share and self.initial - self.best > self.band(z)

    def onset(self, min_share: float, z: float) -> int | None:
        """The first point (after the window) where the smoothed loss is measurably below the loss
        at init: before it, the curve is noise around the start, and no rule may read it."""
        for i in range(self.window, self.usable):
            drop = self.initial - self.smoothed[i]
            if drop > self.band(z) and drop >= min_share * self.span:
                return i
        return None


def measure(lrs: list[float], losses: list[float], *, beta: float, factor: float, window: int,
            floor: float | None, z: float, onset_share: float) -> Curve:
    """The Curve of a sweep's raw losses: the loss at init and its noise from the first
    ``window`` steps, then where it diverged (relative to the floor, or back above the loss at
    init once it had measurably fallen)."""
    tracker = Tracker(lrs, beta=beta, factor=factor, window=window, floor=floor, z=z, onset_share=onset_share)
    tracker.extend(losses)
    return tracker.curve()


class Tracker:
    """A sweep's :func:`measure`, kept as the losses come in chunk by chunk: the LRs, the EMA and the
    divergence scan are extended, never recomputed, so the bookkeeping per step stays flat however
    long the sweep (the scan restarts only while the noise window still grows with the curve, its
    first ``5 x window`` points). ``stop()`` is where ``measure(...).usable`` ends; ``curve()``
    equals ``measure`` on the losses so far."""

    def __init__(self, lrs, *, beta: float, factor: float, window: int, floor: float | None, z: float,
                 onset_share: float, planned: int | None = None):
        self.schedule, self.beta, self.factor, self.window, self.floor = lrs, beta, factor, window, floor
        self.planned = planned  # the sweep's planned steps (default: the LRs given; under a GradScaler a
        #                         list that grows as steps are kept)
        self.z, self.onset_share = z, onset_share
        self.lrs: list[float] = []
        self.losses: list[float] = []
        self.smoothed: list[float] = []
        self._avg = 0.0
        self._key, self._scan, self._scanned, self._stop = None, None, 0, None

    def extend(self, losses: list[float]) -> None:
        beta, avg, n = self.beta, self._avg, len(self.losses)
        for i, value in enumerate(losses, start=n + 1):
            avg = beta * avg + (1 - beta) * value
            self.smoothed.append(avg / (1 - beta ** i))
        self._avg = avg
        self.losses += losses
        self.lrs += self.schedule[n:len(self.losses)]

    def _head(self) -> Curve:
        """The Curve without the divergence: its window, loss at init and noise (plain numbers)."""
        losses = self.losses
        window = max(2, min(self.window, len(losses) // 5))
        head = [v for v in losses[:window] if math.isfinite(v)] or [float("nan")]
        return Curve(lrs=self.lrs, losses=losses, smoothed=self.smoothed, usable=len(self.smoothed),
                     diverge_lr=None, window=window, initial=sum(head) / len(head),
                     noise=noise_of(losses[:window]), floor=self.floor, beta=self.beta)

    def _full_window(self) -> int:
        """The noise window the whole planned sweep has (as :meth:`_head` computes it at its end)."""
        return max(2, min(self.window, (self.planned or len(self.schedule)) // 5))

    def stop(self, head: Curve | None = None) -> int | None:
        """The first diverged point so far (None: none yet); scans only the points not yet scanned."""
        if head is not None or self._key is None or self._key[0] != max(2, self.window):
            c = head or self._head()  # once the window is full, its numbers no longer change
            margin = max(c.band(self.z), self.onset_share * c.span)
            key = (c.window, c.initial, margin)
            if key != self._key:  # the window is still growing: scan afresh
                self._key, self._scanned, self._stop = key, 0, None
                # back above the loss at init only once that loss is known: from the sweep's full noise
                # window, not its first two or four steps (one low batch among them, and the batch noise
                # of a loss that has not moved yet reads as a fall and a climb back: a "divergence" at 1e-7)
                known = c.initial if c.window >= self._full_window() else None
                self._scan = Divergence(self.factor, skip=1, floor=self.floor, initial=known, margin=margin,
                                        settle=c.window)
        smoothed, scan = self.smoothed, self._scan
        while self._stop is None and self._scanned < len(smoothed):
            i = self._scanned
            if scan.diverged(i, smoothed[i]):
                self._stop = i
            self._scanned += 1
        return self._stop

    def curve(self) -> Curve:
        """The Curve of the losses so far (copies of the lists, the divergence cut)."""
        c = self._head()
        stop = self.stop(c)
        c.lrs, c.losses, c.smoothed = list(c.lrs), list(c.losses), list(c.smoothed)
        if stop is not None:
            c.usable, c.diverge_lr = stop, c.lrs[stop]
        return c


@dataclass
class Run:
    """A short training at one fixed LR from the same init (the probe; the check of your LR)."""

    lr: float
    losses: list[float]  # raw, one per step
    initial: float  # the loss at init (the sweep's Curve.initial: the same init)
    noise: float  # std of one batch's loss at init (Curve.noise)
    floor: float | None
    init_window: int  # the sweep's steps averaged into ``initial`` (Curve.window)
    window: int  # the last steps averaged into the loss it ends at

    @property
    def end(self) -> float:
        tail = self.losses[-self.window:]
        return sum(tail) / len(tail) if tail and all(math.isfinite(v) for v in tail) else math.inf

    @property
    def finite(self) -> bool:
        return all(math.isfinite(v) for v in self.losses)

    @property
    def fall(self) -> float:
        """How far the loss came down, as a share of the way from init to the floor (-inf when it
        blew up)."""
        return (self.initial - self.end) / span_of(self.initial, self.floor) if math.isfinite(self.end) else -math.inf

    def fell(self, min_share: float, z: float) -> bool:
        """The loss fell by at least ``min_share`` of the way to the floor, and by more than noise
        explains (z standard errors of the difference of two means)."""
        se = self.noise * math.sqrt(1 / max(1, self.init_window) + 1 / max(1, min(self.window, len(self.losses))))
        return self.finite and self.fall >= min_share and self.initial - self.end > z * se
