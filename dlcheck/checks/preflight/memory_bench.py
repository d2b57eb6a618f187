"""The counting and arithmetic behind preflight's memory part (``memory.py`` says what is measured
and why): a meter of what a step holds, the trials on re-cut batches, the linear fit of activation
bytes, the batch-size search and the accumulation factor. The arithmetic is pure and tested alone.
"""

from __future__ import annotations

import gc
import math
import re

import torch

from dlcheck.batches import rebatch
from dlcheck.checks.overfit_small.measure import _subset
from dlcheck.device import map_tensors, synchronize, to_device
from dlcheck.errors import UserError
from dlcheck.state import Hooks

OOM = getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError)
GIB = 2 ** 30
_UNITS = {"": 1, "B": 1, "K": 1e3, "KB": 1e3, "KIB": 2 ** 10, "M": 1e6, "MB": 1e6, "MIB": 2 ** 20,
          "G": 1e9, "GB": 1e9, "GIB": GIB, "T": 1e12, "TB": 1e12, "TIB": 2 ** 40}
#: Cards by name, as people write them: their memory in GiB as the driver reports it (nominal
#: sizes where they agree). Matched without case, spaces, dashes, "NVIDIA" or "GeForce".
CARD_NAMES = {"A100-80GB": 80, "H100": 80, "RTX-4090": 24, "L4": 22.5, "T4": 15, "A10G": 22.5, "A100-40GB": 40,
              "H100-80GB": 80, "H100-NVL": 94, "H200": 140, "V100-16GB": 16, "V100-32GB": 32, "A10": 22.5,
              "L40S": 45, "L40": 45, "A40": 45, "A6000": 48, "RTX-A6000": 48, "RTX-3080": 10, "RTX-3090": 24,
              "RTX-4080": 16, "RTX-5090": 32, "P100": 16, "B200": 179, "MI300X": 192}


def _card(name: str) -> str:
    return re.sub(r"[\s_\-]|NVIDIA|GEFORCE", "", name.upper())


CARDS = {_card(name): gib for name, gib in CARD_NAMES.items()}


def parse_bytes(value, name: str) -> int:
    """``"80GiB"``, ``"24 GB"``, ``2e9`` or a card name -> bytes; one clear error else."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return int(value)
    text = str(value).strip()
    card = _card(text)
    if card in CARDS:
        return int(CARDS[card] * GIB)
    versions = [n for n in CARD_NAMES if _card(n).startswith(card) and _card(n)[len(card):].endswith("GB")]
    if card and versions:  # "A100": the card comes in more than one size
        raise UserError(f"{name}: {text!r} comes with more than one memory size: name one ({', '.join(versions)})")
    found = re.fullmatch(r"([0-9.]+(?:e[0-9]+)?)\s*([a-zA-Z]*)", text)
    unit = found.group(2).upper() if found else None
    number = _float(found.group(1)) if unit in _UNITS else None
    if not number or number * _UNITS[unit] < 1:
        raise UserError(f"{name} must be a size above zero such as 80GiB or 24GB, or a card name "
                        f"({', '.join(list(CARD_NAMES)[:6])}, ...), not {value!r}")
    return int(number * _UNITS[unit])


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:  # "1.2.3"
        return None


def size(n: float | None) -> str:
    if n is None:
        return "?"
    return f"{n / GIB:.2f} GiB" if abs(n) >= GIB else f"{n / 2 ** 20:.1f} MiB"


# -- counting ----------------------------------------------------------------------------------
def _key(t) -> tuple:
    try:
        s = t.untyped_storage()
        return (s.device, s.data_ptr()), s.nbytes()
    except (RuntimeError, NotImplementedError, AttributeError):  # no storage: a subclass or a fake
        return None, 0


def tensor_bytes(tensors) -> int:
    """Bytes of the distinct storages behind ``tensors`` (views counted once)."""
    seen = {}
    for t in tensors:
        k, n = _key(t)
        if k is not None and n:
            seen[k] = n
    return sum(seen.values())


class Meter:
    """What a step holds, counted from its tensors; with ``limit``, a counted allocator that raises
    torch's OutOfMemoryError once the step would hold more."""

    def __init__(self, model, optimizer=None, limit: int | None = None):
        held = [*model.parameters(), *model.buffers()]
        self.skip = {_key(t)[0] for t in held}
        self.weights, self.optimizer, self.limit = tensor_bytes(held), optimizer, limit
        self.state = self.grads = self.act = self.peak = self.act_peak = self.grads_peak = 0
        self.seen: set = set()

    def begin(self) -> None:
        self.seen.clear()
        self.act = self.grads = 0

    def pack(self, t):
        k, n = _key(t)
        if k is not None and k not in self.skip and k not in self.seen:
            self.seen.add(k)
            self.act += n
            self.act_peak = max(self.act_peak, self.act)
            self._check()
        return t

    def pre(self, opt, args, kwargs) -> None:
        self.grads = tensor_bytes(p.grad for g in opt.param_groups for p in g["params"] if p.grad is not None)
        self.grads_peak = max(self.grads_peak, self.grads)
        self._check()

    def post(self, opt, args, kwargs) -> None:
        self.act = 0  # backward freed the graph
        self.state = tensor_bytes(v for st in opt.state.values() for v in st.values() if isinstance(v, torch.Tensor))
        self._check()

    def _check(self) -> None:
        live = self.weights + self.grads + self.state + self.act
        self.peak = max(self.peak, live)
        if self.limit is not None and live > self.limit:
            raise OOM(f"dlcheck's simulated limit: a step would hold {live} bytes of {self.limit}")


def out_of_memory(exc: BaseException | None) -> bool:
    """An out-of-memory error, also where dlcheck named the user's code that raised it (its cause)."""
    while exc is not None:
        if isinstance(exc, OOM):
            return True
        exc = exc.__cause__
    return False


def _same(t):
    return t


def _release(device: torch.device) -> None:
    """Between trials: the trial's tensors go with their last reference; on CUDA, cycles are
    collected too and the allocator's cache handed back, so the next trial starts from the weights."""
    if device.type == "cuda":
        gc.collect()
        torch.cuda.empty_cache()


# -- the measurements --------------------------------------------------------------------------
class Bench:
    """Trials on one model: the user's samples re-cut (``_subset``, as overfit-small re-cuts them)
    or, past the data's end, repeated, to any batch size; each trial with a fresh optimizer."""

    def __init__(self, ctx, model, pool, samples: int | None, steps: int, limit: int | None):
        self.ctx, self.model, self.steps, self.limit = ctx, model, steps, limit
        self.pool, self.have, self.rows = pool, samples, {}
        self.where = ctx.target.where("train_loader")

    def batch(self, n: int):
        if n > self.have:
            self.pool = to_device(_subset(self.ctx, 1, n)[0], torch.device("cpu"))
            self.have = samples(self.ctx, self.pool) or self.have
        cut = rebatch([self.pool] * math.ceil(n / self.have), n, self.where)[0]
        return map_tensors(cut, torch.Tensor.clone)  # its own storage: a view would count the whole pool

    def trial(self, n: int | None) -> dict:
        """``trial_steps`` full training steps at batch size ``n`` (None: the user's batch as read)."""
        key = n if n is not None else self.have
        if key in self.rows:
            return self.rows[key]
        ctx, device = self.ctx, self.ctx.device
        batch = self.pool if n is None or n == self.have else self.batch(n)
        optimizer = ctx.optimizer(self.model.parameters())
        meter = Meter(self.model, optimizer, self.limit)
        trainer, failed, outside, refused = _trainer(ctx, self.model, optimizer), None, 0, None
        if device.type == "cuda":
            synchronize(device)
            outside = torch.cuda.memory_allocated(device) - meter.weights
            torch.cuda.reset_peak_memory_stats(device)
        try:
            with Hooks() as hooks, torch.autograd.graph.saved_tensors_hooks(meter.pack, _same):
                hooks.add(optimizer.register_step_pre_hook(meter.pre))
                hooks.add(optimizer.register_step_post_hook(meter.post))
                for step in range(1, self.steps + 1):
                    failed = step
                    meter.begin()
                    trainer.step(to_device(batch, device), 0)
                failed = None
        except (OOM, UserError) as exc:
            if not out_of_memory(exc):
                refused = self._refused(exc, n)
        finally:
            self.model.zero_grad(set_to_none=True)
            del trainer, optimizer
        peak = meter.peak
        if device.type == "cuda":
            synchronize(device)
            peak = torch.cuda.max_memory_allocated(device) - outside
        _release(device)
        result = "fits" if failed is None else "out of memory" if refused is None else f"refused: {refused}"
        row = {"batch": key, "result": result, "step": failed,
               "peak": peak, "modelled": meter.peak, "weights": meter.weights, "gradients": meter.grads_peak,
               "optimizer": meter.state, "activations": meter.act_peak}
        self.rows[key] = row
        return row

    def _refused(self, exc: BaseException, n: int | None) -> str:
        """A batch size the model itself refuses (BatchNorm training on one sample, a batch size
        written into a reshape) is no memory measurement: said for that size, not raised, since the
        user's own batch ran; an error at the user's batch is the user's, raised."""
        if n is None or n == self.have:
            raise exc
        return str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__

    def activations(self, n: int) -> int | None:
        """Bytes autograd saves in one forward and loss at batch size ``n`` (no step)."""
        meter = Meter(self.model)
        try:
            with torch.autograd.graph.saved_tensors_hooks(meter.pack, _same):
                outputs, targets = self.ctx.forward(self.model, to_device(self.batch(n), self.ctx.device), 0)
                loss = self.ctx.loss(outputs, targets)
            del outputs, targets, loss
        except (OOM, UserError) as exc:
            if not out_of_memory(exc):
                self._refused(exc, n)
            return None
        finally:
            _release(self.ctx.device)
        return meter.act


def _trainer(ctx, model, optimizer):
    from dlcheck.training import Trainer

    return Trainer(ctx, model, optimizer)


def samples(ctx, batch) -> int | None:
    """Samples in a batch: its inputs' first dimension."""
    from dlcheck.runstate import _input_samples

    return None if ctx.target.own_step else _input_samples(ctx, batch)


# -- pure arithmetic ---------------------------------------------------------------------------
def linear_fit(points: list[tuple[int, int]]) -> tuple[float, float, float]:
    """(fixed, per sample, largest relative residual) of bytes = fixed + per_sample * batch."""
    n = len(points)
    mx, my = sum(x for x, _ in points) / n, sum(y for _, y in points) / n
    var = sum((x - mx) ** 2 for x, _ in points)
    slope = sum((x - mx) * (y - my) for x, y in points) / var if var else (my / mx if mx else 0.0)
    fixed = my - slope * mx
    error = max((abs(fixed + slope * x - y) / y for x, y in points if y), default=0.0)
    return fixed, slope, error


def search(fits, start: int, cap: int, precision: float = 0.0) -> tuple[int, bool]:
    """The largest batch size in [1, cap] for which ``fits(size)`` holds (assumed monotone), by
    doubling (or halving) from ``start``, then bisection; and whether the cap stopped it."""
    lo, hi = 0, min(start, cap)
    if fits(hi):
        lo = hi
        while True:
            if lo >= cap:
                return lo, True
            hi = min(2 * lo, cap)
            if not fits(hi):
                break
            lo = hi
    else:
        while hi > 1 and not lo:
            if fits(hi // 2):
                lo = hi // 2
            else:
                hi //= 2
        if not lo:
            return 0, False
    while hi - lo > max(1, int(lo * precision)):
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return lo, False


def accumulation(effective: int, largest: int) -> tuple[int, int]:
    """(micro-batch, steps) that keep ``effective`` samples per optimizer step within ``largest``:
    the fewest steps, with equal micro-batches where up to a quarter more steps allow them (else
    the last micro-batch is smaller)."""
    k = math.ceil(effective / largest)
    for steps in range(k, math.ceil(1.25 * k) + 1):
        if effective % steps == 0:
            return effective // steps, steps
    return math.ceil(effective / k), k


def predicted_largest(anchor: float, at: int, per_sample: float, usable: float, cap: int) -> int:
    """The largest batch whose predicted peak (``anchor`` at batch ``at``, plus ``per_sample`` a
    sample) stays within ``usable`` bytes, at most ``cap``."""
    room = usable - anchor
    if per_sample <= 0:
        return cap if room >= 0 else 0
    return int(max(0, min(cap, at + math.floor(room / per_sample))))
