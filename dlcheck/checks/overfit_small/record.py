"""overfit-small's record of the run on the device, and the end-of-run trend of its loss curve."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from dlcheck import distributed
from dlcheck.task import Task
from dlcheck.training import all_finite, chunk_losses, kept_losses


@dataclass
class Trend:
    """The end of the loss curve: a straight line through the last passes' mean excess over the floor."""

    slope: float  # excess per step (negative: falling)
    t: float  # slope / its standard error
    drop: float  # share of the window's starting excess lost over the window
    steps_needed: float | None  # steps to the fit threshold at this rate
    span: int = 0  # steps the window covers



def falling(trend: Trend, s: Mapping[str, Any]) -> bool:
    """Still clearly falling: the slope ``trend_t`` standard errors below 0, and by ``min_progress``."""
    return trend.t <= -s["trend_t"] and trend.drop >= s["min_progress"]


class Record:
    """Per-step losses and hits, kept on the device in one tensor per chunk: memory grows with the
    steps done (a few bytes each), never per step with Python objects, and one sync per chunk.
    Steps the GradScaler skipped (no optimizer step) are left out at the flush: ``steps`` counts
    the steps kept, ``skipped`` those left out (None: no scaler)."""

    def __init__(self, n: int):
        self.n = n  # batches in a pass over the subset
        self._losses, self._hits, self._counts = [], [], []  # this chunk's 0-dim tensors
        self.losses, self.hits, self.counts = [], [], []  # flushed: one 1-D tensor per chunk
        self.first = None
        self.counts_hits = False
        self.steps = 0
        self._skipped, self.masks, self.everything = [], [], []  # the GradScaler's: per step, per chunk

    def add(self, loss: torch.Tensor, hits, skipped: torch.Tensor | None = None) -> None:
        self._losses.append(loss.float())
        self._skipped.append(skipped)
        if hits is not None:
            self.add_hits(hits)

    def add_hits(self, hits: tuple[torch.Tensor, torch.Tensor]) -> None:
        """One step's (correct, counted) predictions, before the flush."""
        self.counts_hits = True
        self._hits.append(hits[0].float())
        self._counts.append(hits[1].float())

    @property
    def pending(self) -> int:
        """Steps added since the last flush."""
        return len(self._losses)

    def flush(self) -> tuple[bool, int | None]:
        """Stack the chunk; whether its losses are finite, and else the step that was not."""
        run = chunk_losses(self._losses)  # under torchrun: the global mean over ranks
        losses, mask = kept_losses(run, self._skipped)  # without a GradScaler: all of them, as they are
        if mask is not None:  # the chunk as run, too (for a run the scaler skipped entirely)
            self.everything.append(run)
            self.masks.append(mask)
        ok, bad = all_finite(losses)
        self.losses.append(losses)
        if self._hits:  # the mean of hits over the mean of counts: the global accuracy
            self.hits.append(distributed.mean(torch.stack(self._hits)))
            self.counts.append(distributed.mean(torch.stack(self._counts)))
        if self.first is None and len(losses):
            self.first = float(losses[0])
        start = self.steps
        self.steps += len(losses)
        self._losses, self._hits, self._counts, self._skipped = [], [], [], []
        return ok, (start + bad if not ok else None)

    def _last(self, chunks: list) -> torch.Tensor:
        """The last pass's values (the last ``n`` steps) from the last chunks."""
        tail, size = [], 0
        for chunk in reversed(chunks):
            tail.insert(0, chunk)
            size += len(chunk)
            if size >= self.n:
                break
        return torch.cat(tail)[-self.n:]

    def recent_loss(self) -> torch.Tensor:
        return self._last(self.losses).mean()

    def recent_accuracy(self) -> torch.Tensor | None:
        if not self.hits:
            return None
        return self._last(self.hits).sum() / self._last(self.counts).sum().clamp_min(1)

    def accuracy(self) -> float | None:
        acc = self.recent_accuracy()
        return float(acc) if acc is not None else None

    def curve(self) -> list[float]:
        return torch.cat(self.losses).tolist() if self.losses else []

    @property
    def skipped(self) -> int | None:
        """Steps the GradScaler skipped so far (one transfer); None without a scaler."""
        return int(torch.cat(self.masks).sum()) if self.masks else None

    def as_run(self) -> list[float]:
        """Every step's loss, the skipped ones too: the curve of a run the scaler skipped entirely."""
        return torch.cat(self.everything).tolist() if self.everything else self.curve()


def on_course(s: Mapping[str, Any], record: Record, n: int, fit_loss: float, max_steps: int, floor: float) -> bool:
    """At the end of the budget: still clearly falling, and at that rate fit within the extension."""
    factor = float(s["extend_factor"])
    if factor <= 1:
        return False
    trend = trend_of(record.curve(), n, floor, fit_loss, s)  # one transfer, once
    return trend is not None and falling(trend, s) and trend.steps_needed is not None \
        and trend.steps_needed <= (factor - 1) * max_steps


def fits(task: Task, record: Record, fit_loss: float, s) -> bool:
    """The last pass over the subset memorised it (one host sync). With many targets per sample
    (tokens, pixels) some are ambiguous given their inputs (the first characters of a window), so
    99 % accuracy may be out of reach: there the loss alone decides."""
    recent = record.recent_loss()
    accuracy = None if task.per_position else record.recent_accuracy()
    if accuracy is not None:
        return bool((accuracy >= s["target_accuracy"]) & (recent <= fit_loss))
    return bool(recent <= fit_loss)


def trend_of(curve: list[float], n: int, floor: float | None, fit_loss: float | None, s,
             window: str = "trend_window") -> Trend | None:
    """A least-squares line through the mean excess of the last passes over the subset (without a
    known floor: through the loss itself, its drop a share of the window's starting magnitude);
    ``window``: the setting that gives the share of the run's passes it is read on."""
    passes = [sum(curve[i:i + n]) / n for i in range(0, len(curve) - n + 1, n)]
    k = max(4, round(float(s[window]) * len(passes)))
    known, floor = floor is not None, floor or 0.0
    window = [p - floor for p in passes[-k:]]
    if len(window) < 4:
        return None
    xs = list(range(len(window)))
    mx, my = sum(xs) / len(xs), sum(window) / len(window)
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, window)) / sxx
    residual = [y - (my + slope * (x - mx)) for x, y in zip(xs, window)]
    sigma = math.sqrt(sum(r * r for r in residual) / max(len(window) - 2, 1))
    se = sigma / math.sqrt(sxx)
    t = slope / se if se > 0 else (-math.inf if slope < 0 else 0.0)
    start = my - slope * mx
    drop = -slope * (len(window) - 1) / start if start > 0 else 0.0
    if not known and start < 0:  # below 0 with no known floor: a share of its magnitude
        drop = -slope * (len(window) - 1) / -start
    end = my + slope * (len(window) - 1 - mx)
    per_step = slope / n
    needed = (end - (fit_loss - floor)) / -per_step if per_step < 0 and fit_loss is not None else None
    return Trend(slope=per_step, t=t, drop=drop, steps_needed=max(needed, 0.0) if needed is not None else None,
                 span=(len(window) - 1) * n)

