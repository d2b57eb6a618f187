"""preflight's input-pipeline part: can the loader feed the device?

Three numbers: a training step on batches already on the device (``step_s``, the model's
throughput); the user's loader as given, read by real training steps (the wait before each step:
the share of the step spent waiting for data, start-up excluded); and, when that loader is
loader-bound (or ``loader_sweep_always``), a short sweep of ``num_workers`` (0, 2, 4, ... up to
the cores, at least 4) and, on CUDA, ``pin_memory``: a DataLoader rebuilt over the same dataset,
batch sampler and collate function (the user's loader object is never changed; the generators
of its samplers are put back), drained for a few batches, its rate taken after the workers'
first round so start-up and the prefetched batches do not count. A rate becomes an expected idle
share with the step time: ``max(0, 1 - step / batch)`` with workers (they overlap the step),
``batch / (batch + step)`` without. Plain iterables are not swept, IterableDatasets only with
``num_workers=0`` (more workers each yield all of it unless it splits itself); said either way.
The timing of a loader-bound loader is read twice and the smaller wait kept: a machine busy with
other work adds waits that are not the loader's.
"""

from __future__ import annotations

import os
import statistics
import time
import warnings
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch

from dlcheck.context import Context
from dlcheck.device import synchronize, to_device
from dlcheck.results import Finding, rounded
from dlcheck.rules import finding
from dlcheck.state import preserve_rng

Settings = Mapping[str, Any]

SETTINGS = {
    "loader_steps": 12,  # training steps fed by the user's loader (the first, start-up, is not counted)
    "loader_idle_max": 0.5,  # the device idle above this share of each step: DLC981
    "loader_min_wait_ms": 5.0,  # ... and waiting at least this long per step (less is per-batch overhead)
    "loader_sweep_batches": 8,  # batches drained per num_workers trial (at least 3 x workers + 2)
    "loader_max_workers": 0,  # largest num_workers tried (0: the machine's cores, at least 4)
    "loader_sweep_always": False,  # sweep num_workers even when the loader keeps up
}


@dataclass
class Trial:
    workers: int
    pin_memory: bool
    batch_s: float  # seconds per batch once running
    startup_s: float  # seconds to the first batch
    idle: float  # expected share of each step the device waits with this setting


@dataclass
class Measured:
    """What the input-pipeline part measured; its rules read only this."""

    device: str
    skipped: str | None = None
    batch_size: int | None = None
    step_s: float = 0.0  # one training step on batches already on the device (median)
    wait_s: float = 0.0  # the wait for data before a real step (median, start-up excluded)
    idle: float = 0.0  # share of the real steps spent waiting for data
    workers: int | None = None  # the user's num_workers (None: not a DataLoader)
    pin_memory: bool = False
    trials: list[Trial] = field(default_factory=list)
    not_swept: str | None = None  # why there was no sweep (None: swept, or not needed)
    cores: int = 1
    readings: int = 0  # timed readings of the real steps (a second one when the first is loader-bound)

    @property
    def best(self) -> Trial | None:
        return min(self.trials, key=lambda t: (round(t.idle, 2), t.workers, t.pin_memory)) if self.trials else None

    def rate(self, seconds: float) -> float:
        return (self.batch_size or 0) / seconds if seconds > 0 else float("inf")


def measure(ctx: Context) -> Measured:
    s = ctx.settings
    m = Measured(device=ctx.device.type, cores=os.cpu_count() or 1)
    if ctx.shards:
        m.skipped = "under torchrun each rank's loader is measured by its own run; run preflight on one process"
        return m
    loader = ctx.loader("train")
    m.workers, m.pin_memory = getattr(loader, "num_workers", None), bool(getattr(loader, "pin_memory", False))
    steps = max(3, int(s["loader_steps"]))
    from dlcheck.training import Trainer

    with _kept_generators(loader), preserve_rng(), ctx.model() as model:
        trainer = Trainer(ctx, model, ctx.optimizer(model.parameters()))
        batches = ctx.batches(2)
        m.batch_size = _samples(ctx, batches[0])
        times = []
        for i in range(steps // 2 + 1):  # the first is a warm-up
            t0 = time.perf_counter()
            trainer.step(batches[i % len(batches)], i % len(batches))
            synchronize(ctx.device)
            times.append(time.perf_counter() - t0)
        m.step_s = statistics.median(times[1:])
        timed = _timed(ctx, trainer, steps, m)
        if timed and _bound(m, s):  # a second reading: a loader-bound verdict must hold twice
            _timed(ctx, trainer, steps, m)
    if not timed:
        m.skipped = "the loader yields too few batches to time"
        return m
    if _bound(m, s) or s["loader_sweep_always"]:
        m.not_swept = _sweep(ctx, loader, m)
    return m


def _timed(ctx: Context, trainer, steps: int, m: Measured) -> bool:
    """One reading of the real steps into ``m``, kept where it waits less than a reading before it
    (medians, then the smaller of two: a busy machine only ever adds time, a slow loader is slow
    every time). False when the loader yields too few batches to time."""
    waits, compute = _real_steps(ctx, trainer, steps)
    if len(waits) < 2:
        return False
    wait = statistics.median(waits)
    if m.readings == 0 or wait < m.wait_s:
        m.wait_s = wait
        m.idle = wait / (wait + compute) if wait + compute > 0 else 0.0
    m.readings += 1
    return True


def _bound(m: Measured, s: Settings) -> bool:
    return m.idle > float(s["loader_idle_max"]) and m.wait_s * 1000 >= float(s["loader_min_wait_ms"])


def _real_steps(ctx: Context, trainer, steps: int) -> tuple[list[float], float]:
    """Training steps fed by the user's loader as training reads it: the wait for each batch (the
    first, which pays the workers' start-up, left out) and the median step once a batch is there."""
    waits, steps_s = [], []
    t_end = time.perf_counter()
    for i, batch in ctx.stream(steps + 1):
        got = time.perf_counter()
        trainer.step(batch, i)
        synchronize(ctx.device)
        t_done = time.perf_counter()
        if i > 0:
            waits.append(got - t_end)
            steps_s.append(t_done - got)
        t_end = t_done
    return waits, statistics.median(steps_s) if steps_s else 0.0


def _samples(ctx: Context, batch) -> int | None:
    try:
        _, targets = ctx.split(batch)
        return int(targets.shape[0])
    except Exception:
        return None


def _sweep(ctx: Context, loader, m: Measured) -> str | None:
    """The num_workers (and pin_memory on CUDA) sweep; the reason when there is none."""
    from torch.utils.data import DataLoader, IterableDataset

    if not isinstance(loader, DataLoader):
        return f"the loader is a {type(loader).__name__}, not a DataLoader: there is no dataset to rebuild it over"
    top = int(ctx.settings["loader_max_workers"]) or max(4, m.cores)
    counts = [0] + [w for w in (2, 4, 8, 16, 32, 64) if w <= top]
    stream = isinstance(loader.dataset, IterableDataset)
    if stream:  # more workers would each yield all of it unless it splits itself: only one process is safe
        if not m.workers:
            return _STREAM
        counts = [0]
    pins = (False, True) if ctx.device.type == "cuda" else (False,)
    with _kept_generators(loader), preserve_rng():
        for w in counts:
            for pin in pins:
                trial = _trial(ctx, loader, w, pin, m)
                if trial is not None:
                    m.trials.append(trial)
    if stream and m.trials and m.trials[0].idle >= m.idle:
        return f"{_STREAM} (num_workers=0, the one count it tries, does not help)"
    return None if m.trials else "the loader yields too few batches for a sweep"


_STREAM = ("the dataset is an IterableDataset: every worker would yield all of it unless it splits itself by "
           "get_worker_info(), so dlcheck does not try more workers")


def _trial(ctx: Context, loader, workers: int, pin: bool, m: Measured) -> Trial | None:
    """A DataLoader like the user's with ``workers`` and ``pin``, drained: seconds per batch after
    the workers' first round (None when it yields too few batches)."""
    from torch.utils.data import DataLoader, IterableDataset

    extra = {"prefetch_factor": loader.prefetch_factor} if workers and loader.prefetch_factor else {}
    if isinstance(loader.dataset, IterableDataset):  # batched by size: it takes no batch sampler
        extra.update(batch_size=loader.batch_size, drop_last=loader.drop_last)
    else:
        extra.update(batch_sampler=loader.batch_sampler)
    rebuilt = DataLoader(loader.dataset, collate_fn=loader.collate_fn,
                         num_workers=workers, pin_memory=pin, worker_init_fn=loader.worker_init_fn,
                         multiprocessing_context=loader.multiprocessing_context if workers else None,
                         generator=loader.generator, **extra)
    wanted = max(int(ctx.settings["loader_sweep_batches"]), 3 * workers + 2)
    skip = max(1, workers)
    stamps, t0 = [], time.perf_counter()
    with warnings.catch_warnings():  # more workers than cores is what the sweep tries on purpose
        warnings.filterwarnings("ignore", message="This DataLoader will create")
        for batch in rebuilt:
            if ctx.device.type != "cpu":
                to_device(batch, ctx.device)
            stamps.append(time.perf_counter())
            if len(stamps) == wanted:
                break
    synchronize(ctx.device)
    del rebuilt
    if len(stamps) < skip + 2:
        return None
    batch_s = (stamps[-1] - stamps[skip - 1]) / (len(stamps) - skip)
    idle = max(0.0, 1 - m.step_s / batch_s) if workers else batch_s / (batch_s + m.step_s)
    return Trial(workers, pin, batch_s, stamps[0] - t0, idle)


@contextmanager
def _kept_generators(loader):
    """The torch Generators of the loader and its samplers (shuffling advances them) put back."""
    found = []
    for owner in (loader, getattr(loader, "sampler", None), getattr(loader, "batch_sampler", None),
                  getattr(getattr(loader, "batch_sampler", None), "sampler", None)):
        gen = getattr(owner, "generator", None)
        if isinstance(gen, torch.Generator) and all(gen is not g for g, _ in found):
            found.append((gen, gen.get_state()))
    try:
        yield
    finally:
        for gen, state in found:
            gen.set_state(state)


# -- rule, summary, metrics, table ---------------------------------------------------------------
def loader_bound(m: Measured, task, s: Settings) -> Finding | None:
    """DLC981: the device would wait for data more than ``loader_idle_max`` of each step."""
    if m.skipped or m.idle <= float(s["loader_idle_max"]) or m.wait_s * 1000 < float(s["loader_min_wait_ms"]):
        return None
    given = "" if m.workers is None else f" (num_workers={m.workers})"
    message = (f"training fed by the loader{given} runs at {_rate(m, m.step_s + m.wait_s)}, against "
               f"{_rate(m, m.step_s)} on {m.device} with batches in memory: each step waits "
               f"{m.wait_s * 1000:.0f} ms for data, the device idle {m.idle:.0%} of the time")
    best = m.best
    if m.not_swept:
        return finding("DLC981", f"{message}; {m.not_swept}")
    if best is None or best.idle >= m.idle:
        return finding("DLC981", message + "; no num_workers dlcheck tried did better",
                       "Make __getitem__ cheaper (decode once and cache, augment on the GPU), or give the "
                       "machine more CPU cores for the loader.")
    setting = f"num_workers={best.workers}" + (", pin_memory=True" if best.pin_memory else "")
    fixed = best.idle <= float(s["loader_idle_max"])
    message += (f"; with {setting} it delivers {_rate(m, best.batch_s)} (device idle ~{best.idle:.0%}, "
                f"{best.startup_s:.1f} s to start)")
    if best.workers:  # persistent_workers needs workers: DataLoader refuses it with num_workers=0
        setting += ", persistent_workers=True"
    advice = (f"Set DataLoader(..., {setting})." if fixed else
              f"Set DataLoader(..., {setting}), and make __getitem__ cheaper: no count "
              f"dlcheck tried brings the idle share under {float(s['loader_idle_max']):.0%}.")
    return finding("DLC981", message, advice)


def _rate(m: Measured, seconds: float) -> str:
    return f"{m.rate(seconds):,.0f} samples/s" if m.batch_size else f"{1 / seconds:,.1f} batches/s"


def summary(m: Measured) -> str:
    if m.skipped:
        return f"loader: not measured ({m.skipped})"
    return (f"loader: waits {m.wait_s * 1000:.1f} ms per step of {m.step_s * 1000:.1f} ms "
            f"(device idle {m.idle:.0%})" + (f", best num_workers={m.best.workers}" if m.trials else ""))


def metrics(m: Measured) -> dict[str, Any]:
    """Nothing timed: metrics repeat exactly for a seed, timings never do (they are in the tables)."""
    return {"loader_batch_size": m.batch_size} if not m.skipped and m.batch_size else {}


def details(m: Measured) -> dict[str, list[dict]]:
    """The timings: the loader as given (one row) and the sweep's trials."""
    if m.skipped:
        return {}
    given = {"loader": "as given", "workers": "-" if m.workers is None else m.workers, "idle": rounded(m.idle, 3),
             "wait_ms": rounded(m.wait_s * 1000, 3), "step_ms": rounded(m.step_s * 1000, 3),
             "samples_per_s": rounded(m.rate(m.step_s + m.wait_s), 4) if m.batch_size else None,
             "in_memory_samples_per_s": rounded(m.rate(m.step_s), 4) if m.batch_size else None,
             "best_workers": m.best.workers if m.best else "-", "not_swept": m.not_swept or "-"}
    rows = [{"workers": t.workers, "pin_memory": t.pin_memory, "idle": rounded(t.idle, 3),
             "batch_ms": rounded(t.batch_s * 1000, 3), "samples_per_s": rounded(m.rate(t.batch_s), 4),
             "startup_s": rounded(t.startup_s, 3)} for t in m.trials]
    return {"loader": [given], **({"loader_sweep": rows} if rows else {})}


def skipped(m: Measured) -> str | None:
    return m.skipped


RULES = (loader_bound,)
