"""preflight's memory part: what a training step holds, split into weights, gradients, optimizer
state and activations, and the largest batch that fits a device with a margin.

How it is measured (``memory_bench.py``). Weights (parameters and buffers), gradients (read just
before the optimizer step) and optimizer state (``optimizer.state`` after the step) are counted
exactly from the tensors themselves, each storage once. Activations are the tensors autograd saves
for the backward (``torch.autograd.graph.saved_tensors_hooks``, parameters left out): what a step
holds until backward frees it, the same bytes on any device, deterministic, and with the user's
activation checkpointing honoured. The profiler's memory events were not chosen: on the CPU they
list every temporary allocation and leave the peak to be rebuilt from a timeline. Activation bytes
are linear in the batch size: fitted over three sizes they give bytes per sample and fixed bytes.
Without a GPU the peak is modelled as weights + gradients + optimizer state + activations (an upper
bound: backward frees activations while gradients appear); on CUDA it is the allocator's peak
(``torch.cuda.max_memory_allocated``), temporaries and the optimizer's foreach buffers included,
and the modelled peak is kept beside it (their ratio says how far a CPU prediction is off).

The largest batch: on CUDA (or against ``simulated_limit``, a counted limit that raises torch's
own ``OutOfMemoryError`` on any device), trials of ``trial_steps`` (>= 2) full steps with a fresh
optimizer, so a batch that fits at step 1 and not at step 2 (once Adam's state exists) is caught;
doubling from the user's batch, then bisection, capped by ``max_batch_size``; under torchrun the
minimum over ranks. With ``device_memory`` (a size or a card name), predicted from the peak at the
user's batch plus the activation bytes per sample. A batch fits when its peak leaves
``memory_margin`` of the memory free; the accumulation factor keeps the effective batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from dlcheck import distributed
from dlcheck.batches import rebatch
from dlcheck.checks.preflight.memory_bench import (Bench, accumulation, linear_fit, parse_bytes, predicted_largest,
                                                   samples, search, size, tensor_bytes)
from dlcheck.device import to_device
from dlcheck.errors import UserError
from dlcheck.results import Finding, rounded
from dlcheck.rules import finding

#: The smallest batch the activation fit cuts below the user's: BatchNorm in training refuses one
#: sample per channel (torchvision's mobilenet_v3 at 32x32 pools to 1x1 before one), so a fit at 1
#: would stop at the model, not measure it.
FIT_SMALLEST = 2

SETTINGS = {
    "memory_margin": 0.1,  # the share of device memory a batch must leave free to count as fitting
    "max_batch_size": 4096,  # the search stops here
    "device_memory": None,  # predict for this card: "80GiB", "24GB" or a name ("A100-80GB", "H100", "RTX 4090")
    "context_memory": "1GiB",  # with device_memory: what the CUDA context and libraries take first
    "trial_steps": 3,  # full training steps per trial (at least 2: the optimizer state exists from step 2)
    "effective_batch_size": None,  # samples per optimizer step to keep (default: the loader's batch)
    "search_precision": 0.05,  # bisection stops when the gap is under this share of the size (0: exact)
    "linear_tolerance": 0.05,  # activation bytes further off a straight line in the batch size: no prediction
    "simulated_limit": None,  # tests and dry runs: trials against a counted limit of this size, on any device
}


@dataclass
class Measured:
    """What the memory part measured, in bytes and batch sizes; the rules read only this."""

    device: str  # where the steps ran
    method: str  # how the peak was read
    batch_size: int | None  # samples in the user's batch (None: the target reads its batches itself)
    steps: int  # training steps per trial
    margin: float
    weights: int = 0  # parameters and buffers
    gradients: int = 0
    optimizer: int = 0  # optimizer state after the last step
    activations: int = 0  # saved for the backward, at the user's batch
    peak: int = 0  # the peak of a step at the user's batch (CUDA: the allocator's; else the modelled one)
    modelled: int = 0  # weights + gradients + optimizer state + activations
    fit: list[tuple[int, int]] = field(default_factory=list)  # (batch size, activation bytes)
    fixed: float | None = None  # activation bytes that do not grow with the batch
    per_sample: float | None = None  # activation bytes per sample
    fit_error: float | None = None  # the largest relative residual of the straight line
    mode: str | None = None  # "measured" (trials), "predicted" (device_memory), None (nothing to judge)
    budget: int | None = None  # usable bytes of the device judged
    source: str = ""  # that device, in words
    fits: bool | None = None  # the user's batch runs there (measured) or its peak is within the budget (predicted)
    failed_step: int | None = None  # the step that ran out of memory at the user's batch
    largest: int | None = None  # the largest batch whose peak leaves the margin free (0: none; None: not known)
    capped: bool = False  # the search stopped at max_batch_size
    effective: int | None = None  # samples per optimizer step to keep
    micro: int | None = None  # with ``accumulate``: the micro-batch that keeps ``effective``
    accumulate: int | None = None
    trials: list[dict] = field(default_factory=list)
    reason: str | None = None  # why the largest batch was not searched or predicted

    @property
    def base(self) -> int:
        """Weights, gradients and optimizer state: what no batch size changes."""
        return self.weights + self.gradients + self.optimizer

    @property
    def usable(self) -> float | None:
        return None if self.budget is None else (1 - self.margin) * self.budget


def _number(s, key: str, least: float, kind=int, below: float | None = None):
    value = s[key]
    try:
        v = kind(value)
    except (TypeError, ValueError):
        v = None
    if v is None or isinstance(value, bool) or v < least or (below is not None and v >= below) \
            or (kind is int and v != float(value)):
        bound = f" and below {below:g}" if below is not None else ""
        raise UserError(f"{key} must be {'an integer' if kind is int else 'a number'} of at least "
                        f"{least:g}{bound}, not {value!r}")
    return v


def _budget(ctx, s, weights: int) -> tuple[str | None, int | None, str]:
    """(mode, usable bytes, the device in words) of the memory the batch is judged against."""
    if s["simulated_limit"] is not None:
        limit = parse_bytes(s["simulated_limit"], "simulated_limit")
        return "measured", limit, f"a simulated limit of {size(limit)}"
    if s["device_memory"] is not None:
        total = parse_bytes(s["device_memory"], "device_memory")
        context = parse_bytes(s["context_memory"], "context_memory")
        if total <= context:
            raise UserError(f"device_memory {s['device_memory']!r} is no more than the "
                            f"context_memory {s['context_memory']!r} it keeps for the CUDA context")
        return "predicted", total - context, (f"{s['device_memory']} ({size(total)}, less {size(context)} for the "
                                              f"CUDA context)")
    if ctx.device.type == "cuda":  # what this process can have: free, its own cache, less what others of it hold
        free, total = torch.cuda.mem_get_info(ctx.device)
        held = torch.cuda.memory_allocated(ctx.device) - weights
        usable = free + torch.cuda.memory_reserved(ctx.device) - held
        return "measured", usable, f"{torch.cuda.get_device_name(ctx.device)} ({size(usable)} usable of {size(total)})"
    return None, None, ""


def measure(ctx) -> Measured:
    """The split at the user's batch, the activation fit, then the search (a device to measure on)
    or the prediction (``device_memory``); see the module's docstring."""
    s = ctx.settings
    steps, margin = _number(s, "trial_steps", 2), _number(s, "memory_margin", 0, float, 1)
    cap = _number(s, "max_batch_size", 1)
    pool = to_device(ctx.batches(1)[0], torch.device("cpu"))
    b0 = samples(ctx, pool)
    cuda = ctx.device.type == "cuda"
    m = Measured(device=str(ctx.device), batch_size=b0, steps=steps, margin=margin,
                 method="the CUDA allocator's peak, split by counting tensors" if cuda else
                 "tensors counted: parameters, gradients, optimizer state, saved activations")
    m.effective = b0 if s["effective_batch_size"] is None else _number(s, "effective_batch_size", 1)
    with ctx.model() as model:
        model.train()
        weights = tensor_bytes([*model.parameters(), *model.buffers()])
        m.mode, m.budget, m.source = _budget(ctx, s, weights)
        limit = m.budget if s["simulated_limit"] is not None else None
        bench = Bench(ctx, model, pool, b0, steps, limit)
        _split(m, bench.trial(None))
        m.reason = _uncut(bench, b0)
        if m.reason is None:
            _fit(m, bench)
            if m.mode == "measured":
                _search(m, bench, s, cap)
            elif m.mode == "predicted":
                _predict(m, s, cap)
        m.trials = list(bench.rows.values())
    if m.mode is None:
        m.reason = ("no GPU here: set device_memory (--device-memory 80GiB, or a card name such as A100-80GB) "
                    "to predict the largest batch for a card")
    if m.largest and m.effective and m.effective > m.largest:
        m.micro, m.accumulate = accumulation(m.effective, m.largest)
    return m


def _uncut(bench: Bench, b0: int | None) -> str | None:
    """Why the user's batches cannot be cut to other sizes (None: they can)."""
    if not b0:
        return "the target reads its batches itself (forward or training_step): they cannot be re-cut"
    try:
        rebatch([bench.pool], b0, bench.where)
    except UserError:
        return "the batches hold more than tensors with a sample dimension: they cannot be re-cut"
    return None


def _search(m: Measured, bench: Bench, s, cap: int) -> None:
    usable = m.usable

    def fits(n: int) -> bool:
        row = bench.trial(n)
        return row["result"] == "fits" and row["peak"] <= usable

    m.largest, m.capped = search(fits, m.batch_size, cap, _number(s, "search_precision", 0, float))
    m.largest = int(distributed.reduce_floats([m.largest], ["min"])[0])  # under torchrun: every rank's


def _split(m: Measured, row: dict) -> None:
    m.weights, m.gradients, m.optimizer, m.activations = (row["weights"], row["gradients"], row["optimizer"],
                                                         row["activations"])
    m.peak, m.modelled = row["peak"], row["modelled"]
    m.fits, m.failed_step = row["result"] == "fits", row["step"]
    if m.mode == "predicted":
        m.fits = m.peak <= m.budget


def _fit(m: Measured, bench: Bench) -> None:
    """Activation bytes at three batch sizes (at and below the user's where it has room), fitted."""
    b0 = m.batch_size
    sizes = sorted({n for n in (b0 // 4, b0 // 2, b0) if n >= FIT_SMALLEST})
    if len(sizes) < 3:
        sizes = [b0, 2 * b0, 4 * b0]
    for n in sizes:
        found = bench.activations(n)
        if found is not None:
            m.fit.append((n, found))
    if len(m.fit) >= 2:
        m.fixed, m.per_sample, m.fit_error = linear_fit(m.fit)


def _predict(m: Measured, s, cap: int) -> None:
    if m.per_sample is None:
        m.reason = "the activation bytes could not be measured at two batch sizes"
    elif m.fit_error > float(s["linear_tolerance"]):
        m.reason = f"activation bytes are not linear in the batch size (off by {m.fit_error:.0%})"
    else:
        m.largest = predicted_largest(m.peak, m.batch_size, m.per_sample, m.usable, cap)
        m.capped = m.largest >= cap


# -- rules -------------------------------------------------------------------------------------
def _parts(m: Measured) -> str:
    return (f"weights {size(m.weights)}, gradients {size(m.gradients)}, optimizer state {size(m.optimizer)}, "
            f"activations {size(m.activations)}")


def _advice(m: Measured) -> str:
    save = ("mixed precision (bf16 autocast), activation checkpointing, or a lighter optimizer state (SGD "
            "with momentum, 8-bit Adam)")
    if not m.micro:
        return f"Save memory: {save}."
    last = ", the last micro-batch smaller" if m.micro * m.accumulate != m.effective else ""
    return (f"Train with micro-batches of {m.micro} and accumulate gradients over {m.accumulate} steps "
            f"({m.effective} samples per optimizer step{last}), or save memory: {save}.")


def does_not_fit(m: Measured, task, s) -> Finding | None:
    """DLC986: the user's batch runs out of memory (measured: fail) or is predicted to (warn)."""
    if m.fits is not False or m.largest == 0:
        return None
    if m.mode == "measured":
        when = ("in step 1" if m.failed_step == 1 else
                f"in step {m.failed_step}, after the first optimizer step made its state ({size(m.optimizer)})")
        what = f"runs out of memory on {m.source} {when}; counted so far: {_parts(m)}"
    else:
        what = f"needs about {size(m.peak)} ({_parts(m)}), more than the {size(m.budget)} of {m.source}"
    largest = "" if m.largest is None else \
        f". The largest batch that leaves {m.margin:.0%} free is {m.largest}"
    return finding("DLC986", f"a batch of {m.batch_size} {what}{largest}", advice=_advice(m),
                   severity="fail" if m.mode == "measured" else "warn")


def near_limit(m: Measured, task, s) -> Finding | None:
    """DLC987: the user's batch fits, but its peak leaves less than the margin free."""
    if not m.fits or m.usable is None or m.peak <= m.usable or m.largest == 0:
        return None
    largest = "" if m.largest is None else f"; the largest batch that leaves it free is {m.largest}"
    return finding("DLC987", f"a batch of {m.batch_size} fits {m.source}, but its peak of {size(m.peak)} is "
                             f"{m.peak / m.budget:.0%} of it, leaving less than the {m.margin:.0%} margin free "
                             f"({_parts(m)}): a longer batch, an evaluation pass or fragmentation tips it over"
                             f"{largest}", advice=_advice(m))


def not_linear(m: Measured, task, s) -> Finding | None:
    """DLC988 (info): activation bytes off a straight line, so no largest batch is predicted."""
    if m.mode != "predicted" or m.fit_error is None or m.fit_error <= float(s["linear_tolerance"]):
        return None
    points = ", ".join(f"{size(b)} at {n}" for n, b in m.fit)
    return finding("DLC988", f"activation memory is not linear in the batch size ({points}: off a straight line "
                             f"by {m.fit_error:.0%}), so the largest batch for {m.source} is not predicted")


def model_does_not_fit(m: Measured, task, s) -> Finding | None:
    """DLC989: not even a batch of one leaves the margin free."""
    if m.largest != 0:
        return None
    return finding("DLC989", f"not even a batch of 1 fits {m.source} with {m.margin:.0%} left free: weights "
                             f"{size(m.weights)}, gradients {size(m.gradients)} and optimizer state "
                             f"{size(m.optimizer)} take {size(m.base)} before any activation, of "
                             f"{size(m.budget)}")


RULES = (does_not_fit, near_limit, not_linear, model_does_not_fit)


# -- summary, metrics, details -----------------------------------------------------------------
def summary(m: Measured) -> str:
    at = f"at a batch of {m.batch_size}" if m.batch_size else "at the loader's batch"
    head = f"peak {size(m.peak)} {at} ({_parts(m)})"
    if m.largest is None:
        return head if m.fits is not False else f"{head}; out of memory on {m.source}"
    verb = "measured" if m.mode == "measured" else "predicted"
    more = "+" if m.capped else ""
    keep = f", micro-batch {m.micro} x {m.accumulate} accumulation steps" if m.micro else ""
    return f"{head}; largest batch {m.largest}{more} on {m.source} ({verb}, {m.margin:.0%} margin){keep}"


def skipped(m: Measured) -> str | None:
    """The split of a step is always measured: the part is never skipped (why the largest batch
    was not searched or predicted is ``m.reason``, said in the summary)."""
    return None


def metrics(m: Measured) -> dict:
    """The numbers, each key prefixed by the part (``memory_``), as the preflight check joins parts."""
    return {k if k.startswith("memory_") else f"memory_{k}": v for k, v in _numbers(m).items()}


def _numbers(m: Measured) -> dict:
    mib = lambda n: None if n is None else rounded(n / 2 ** 20, 6)  # noqa: E731
    return {"memory_method": m.method, "batch_size": m.batch_size, "weights_mib": mib(m.weights),
            "gradients_mib": mib(m.gradients), "optimizer_state_mib": mib(m.optimizer),
            "activations_mib": mib(m.activations), "peak_mib": mib(m.peak), "modelled_peak_mib": mib(m.modelled),
            "prediction_ratio": rounded(m.modelled / m.peak, 4) if m.peak and m.modelled != m.peak else None,
            "activation_mib_per_sample": mib(m.per_sample), "activation_fixed_mib": mib(m.fixed),
            "memory_judged": m.mode, "device_memory_mib": mib(m.budget), "fits": m.fits,
            "largest_batch": m.largest, "largest_capped": m.capped, "micro_batch": m.micro,
            "accumulation_steps": m.accumulate}


def details(m: Measured) -> dict:
    """Tables: the split of the peak at the user's batch, the activation fit, the batch-size trials."""
    total = m.modelled or 1
    split = [{"part": k, "bytes": v, "mib": rounded(v / 2 ** 20, 6), "share": rounded(v / total, 4)}
             for k, v in (("weights", m.weights), ("gradients", m.gradients), ("optimizer state", m.optimizer),
                          ("activations", m.activations))]
    fitted = [{"batch": n, "activation_bytes": b,
               "fitted": None if m.per_sample is None else math.floor(m.fixed + m.per_sample * n)} for n, b in m.fit]
    return {"memory": split, "activation_fit": fitted, "batch_trials": m.trials}
