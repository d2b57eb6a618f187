"""Is a tensor at the scale a network wants? Per-channel moments streamed batch by batch on the
device, and the one judgement of them that data-check (the loader's batches) and aug-preview (the
augmented samples) share; each check passes its own thresholds.

    moments = Moments()
    for x in batches:
        moments.add(x)            # reduces on x's device; nothing is kept but five small vectors
    stats = moments.result()      # ChannelStats: plain lists, one host copy
    verdict = judge(stats, Thresholds(...), image=True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch


@dataclass
class ChannelStats:
    """Moments of the finite values of each channel (feature), and the non-finite count."""

    mean: list[float] = field(default_factory=list)
    std: list[float] = field(default_factory=list)
    low: list[float] = field(default_factory=list)  # inf where a channel had no finite value
    high: list[float] = field(default_factory=list)
    values: int = 0  # finite values seen
    nonfinite: int = 0

    @property
    def seen(self) -> list[int]:
        """Channels with at least one finite value."""
        return [i for i, lo in enumerate(self.low) if math.isfinite(lo)]

    @property
    def constant(self) -> list[int]:
        return [i for i in self.seen if self.high[i] - self.low[i] <= 1e-7 * max(1.0, abs(self.high[i]))]

    @property
    def range(self) -> tuple[float, float]:
        seen = self.seen
        if not seen:
            return math.nan, math.nan
        return min(self.low[i] for i in seen), max(self.high[i] for i in seen)


class Moments:
    """Count, sum, sum of squares, min and max of the finite values per channel, accumulated in
    float64 on the tensors' device. The channel axis is 1 for (N, C, ...) and (N, F); a 0/1-D
    tensor is one channel. When the channel count changes between batches (ragged widths) the
    channels collapse into one."""

    def __init__(self, axis: int = 1):
        self.axis = axis
        self._acc: list[torch.Tensor] | None = None  # count, sum, square, low, high
        self.nonfinite: list[torch.Tensor] = []  # one 0-dim tensor per batch (device)

    def _by_channel(self, x: torch.Tensor, channels: int | None) -> torch.Tensor:
        x = x.detach().double()
        if x.dim() <= self.axis or channels == 1:
            return x.reshape(1, -1)
        return x.movedim(self.axis, 0).reshape(x.shape[self.axis], -1)

    def add(self, x: torch.Tensor) -> torch.Tensor:
        """Accumulate one tensor; returns its non-finite count (a 0-dim tensor on its device)."""
        width = x.shape[self.axis] if x.dim() > self.axis else 1
        if self._acc is not None and self._acc[0].shape[0] not in (width, 1):
            self._collapse()
        channels = 1 if self._acc is not None and self._acc[0].shape[0] == 1 else None
        v = self._by_channel(x, channels)
        finite = torch.isfinite(v)
        zero = torch.zeros((), dtype=v.dtype, device=v.device)
        v0 = torch.where(finite, v, zero)
        lo = torch.where(finite, v, zero + math.inf).amin(1)
        hi = torch.where(finite, v, zero - math.inf).amax(1)
        part = [finite.sum(1).double(), v0.sum(1), (v0 * v0).sum(1), lo, hi]
        if self._acc is None:
            self._acc = part
        else:
            c, s, q, l, h = self._acc
            self._acc = [c + part[0], s + part[1], q + part[2], torch.minimum(l, lo), torch.maximum(h, hi)]
        bad = (~finite).sum()
        self.nonfinite.append(bad)
        return bad

    def _collapse(self) -> None:
        c, s, q, l, h = self._acc
        self._acc = [c.sum(0, keepdim=True), s.sum(0, keepdim=True), q.sum(0, keepdim=True),
                     l.amin(0, keepdim=True), h.amax(0, keepdim=True)]

    def result(self) -> ChannelStats:
        if self._acc is None:
            return ChannelStats()
        c, s, q, l, h = self._acc
        n = c.clamp(min=1)
        mean = s / n
        std = (q / n - mean * mean).clamp(min=0).sqrt()
        bad = int(torch.stack(self.nonfinite).sum()) if self.nonfinite else 0
        return ChannelStats(mean.tolist(), std.tolist(), l.tolist(), h.tolist(), int(c.sum()), bad)


@dataclass
class Thresholds:
    """What 'normalised' means to the caller."""

    raw_max: float  # non-negative values reaching above this (and at most 255.5): raw 0-255 pixels
    centre_tolerance: float  # |mean| above this (and above ``centre_share`` x std): not zero-centred
    std_low: float  # std below this: not unit-scale
    std_high: float  # std above this: not unit-scale
    centre_share: float = 0.5


@dataclass
class Verdict:
    """Which channels are off, by reason (indices into the channel lists)."""

    raw: bool = False  # the whole tensor looks like raw 0-255 pixel values
    off_centre: list[int] = field(default_factory=list)
    small: list[int] = field(default_factory=list)
    huge: list[int] = field(default_factory=list)
    constant: list[int] = field(default_factory=list)
    varying: list[int] = field(default_factory=list)

    @property
    def off(self) -> list[int]:
        return sorted(set(self.off_centre) | set(self.small) | set(self.huge))


def pooled(stats: ChannelStats) -> ChannelStats:
    """The channels' moments as those of one channel (each channel weighted alike: one value per
    sample each, as the features of a table)."""
    seen = stats.seen
    if not seen:
        return ChannelStats(values=stats.values, nonfinite=stats.nonfinite)
    mean = sum(stats.mean[i] for i in seen) / len(seen)
    square = sum(stats.std[i] ** 2 + stats.mean[i] ** 2 for i in seen) / len(seen)
    return ChannelStats(mean=[mean], std=[math.sqrt(max(square - mean * mean, 0.0))],
                        low=[min(stats.low[i] for i in seen)], high=[max(stats.high[i] for i in seen)],
                        values=stats.values, nonfinite=stats.nonfinite)


def looks_raw(low: float, high: float, raw_max: float) -> bool:
    """Non-negative values that reach above ``raw_max`` but stay within 0..255: raw pixels."""
    return low >= 0 and raw_max < high <= 255.5


def judge(stats: ChannelStats, t: Thresholds, *, image: bool = True) -> Verdict:
    """The shared judgement: raw 0-255 pixels (images only), else per varying channel off-centre,
    too small or too large a spread. Constant channels are listed apart (they have no spread)."""
    constant = stats.constant
    varying = sorted(set(stats.seen) - set(constant))
    lo, hi = stats.range
    verdict = Verdict(constant=constant, varying=varying)
    if image and stats.seen and looks_raw(lo, hi, t.raw_max):
        verdict.raw = True
        return verdict
    m, s = stats.mean, stats.std
    verdict.off_centre = [i for i in varying if abs(m[i]) > t.centre_tolerance and abs(m[i]) > t.centre_share * s[i]]
    verdict.small = [i for i in varying if s[i] < t.std_low]
    verdict.huge = [i for i in varying if s[i] > t.std_high]
    return verdict
