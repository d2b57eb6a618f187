"""The training loop's library, shared by the checks that train for epochs (grid, curves): list
settings, the validation requirement, the epoch plan and its evaluation points, the loader rewind,
weight decay on the user's param groups, one pass of evaluation, a progress bar, and how far a
loss fell toward its floor."""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass

import torch

from dlcheck.context import Context
from dlcheck.errors import UserError
from dlcheck.task import References


def number_list(value, name: str, *, positive: bool) -> list[float] | None:
    """``"1e-3, 3e-3"`` or a list of numbers -> floats (None stays None); one clear error else."""
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = [value]  # one number (a recipe's `lrs: 1e-3`, or a flag the settings parsed as one)
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not items:
        raise UserError(f"{name} must be a comma-separated list of numbers, not {value!r}")
    out = []
    for item in items:
        try:
            v = float(item.strip() if isinstance(item, str) else item)
        except (TypeError, ValueError):
            raise UserError(f"{name}: '{item}' is not a number") from None
        if not math.isfinite(v) or v < 0 or (positive and v == 0):
            raise UserError(f"{name}: {item} must be a finite number {'above' if positive else 'at least'} 0")
        out.append(v)
    if len(set(out)) != len(out):
        raise UserError(f"{name} lists a value twice: {value!r}")
    return out


def require_val(ctx: Context, check: str) -> None:
    """A clear error when the target has no validation data (grid and curves judge on it)."""
    if ctx.loader("val") is None:
        raise UserError(f"{check} judges the validation loss and needs a val_loader: add val_loader (a loader, "
                        f"or a function returning one) to the target, or pass --val-data file.py:name")


def steps_per_epoch(ctx: Context) -> int:
    """Batches in one pass over the train loader: len() where it has one, else counted."""
    loader = ctx.loader("train")
    try:
        n = len(loader)
    except TypeError:
        n = 0
        for index, _ in ctx.stream(10 ** 12):
            if index == 0 and n:
                break
            n += 1
    if n < 1:
        raise UserError(f"{ctx.target.where('train_loader')} yielded no batches")
    return n


def set_weight_decay(optimizer: torch.optim.Optimizer, wd: float) -> None:
    """``weight_decay`` on the optimizer's param groups. Groups the factory keeps free of decay
    (0 while another group decays: biases, norms) stay at 0."""
    given = [float(g.get("weight_decay", 0.0) or 0.0) for g in optimizer.param_groups]
    exempt = any(v > 0 for v in given)
    for group, v in zip(optimizer.param_groups, given):
        if exempt and v == 0:
            continue
        group["weight_decay"] = wd


def configured_weight_decay(ctx: Context) -> float:
    """The weight decay the target's optimizer factory sets (the largest group's; Adam's default 0)."""
    if ctx.target.optimizer is None:
        return 0.0
    try:
        opt = ctx.target.optimizer([torch.nn.Parameter(torch.zeros(1))], lr=ctx.lr)
        return max(float(g.get("weight_decay", 0.0) or 0.0) for g in opt.param_groups)
    except Exception:  # a factory that needs the real parameters
        return 0.0


class Rewind:
    """The train loader's batch order, replayed: the states of the torch Generators a loader
    shuffles with (a DataLoader's, its sampler's, and those of a loader wrapped one or two levels
    deep in an object of the user's) are kept and set back before every trial, and at the end, so
    the loader is handed back as found. A loader that shuffles with the global RNG repeats
    through the seed."""

    def __init__(self, loader):
        self.generators: list[tuple[torch.Generator, torch.Tensor]] = []
        self._collect(loader, depth=0, seen=set())

    def _collect(self, obj, depth: int, seen: set) -> None:
        if obj is None or id(obj) in seen or depth > 3:
            return
        seen.add(id(obj))
        if isinstance(obj, torch.Generator):
            self.generators.append((obj, obj.get_state()))
            return
        if isinstance(obj, (str, bytes, int, float, bool, torch.Tensor, torch.nn.Module)):
            return
        try:
            values = list(vars(obj).values())
        except TypeError:  # no __dict__: nothing of the user's to look into
            return
        for value in values:
            if isinstance(value, torch.Generator) or hasattr(value, "__iter__") or hasattr(value, "generator") \
                    or hasattr(value, "sampler"):
                if not isinstance(value, (dict, list, tuple, set)):
                    self._collect(value, depth + 1, seen)

    def __call__(self) -> None:
        for gen, state in self.generators:
            gen.set_state(state)


@dataclass
class Evaluation:
    loss: float
    accuracy: float | None
    refs: References


def evaluate(ctx: Context, model, split: str = "val", batches: int | None = None, refs: bool = False,
             fixed: list | None = None) -> Evaluation:
    """The mean loss (weighted by samples) and accuracy where it applies over one pass of ``split``
    (at most ``batches`` batches), or over the device batches ``fixed``, in eval mode without
    gradients; the model's modes are set back. ``refs``: also the task's references on them."""
    modes = [m.training for m in model.modules()]
    model.eval()
    device = ctx.device
    total = torch.zeros((), device=device, dtype=torch.float64)
    count = torch.zeros((), device=device, dtype=torch.float64)
    hits = torch.zeros((), device=device, dtype=torch.float64)
    counted = torch.zeros((), device=device, dtype=torch.float64)
    found, with_hits = [], False
    pairs = enumerate(fixed) if fixed is not None else one_pass(ctx, split, batches)
    try:
        with torch.no_grad():
            for index, batch in pairs:
                outputs, targets = ctx.forward(model, batch, index)
                loss = ctx.loss(outputs, targets).float()
                n = targets.shape[0] if isinstance(targets, torch.Tensor) and targets.dim() else 1
                total += loss.double() * n
                count += n
                logits = ctx.logits(outputs)
                h = ctx.task.hits(logits, targets)
                if h is not None:
                    with_hits = True
                    hits += h[0].double()
                    counted += h[1].double()
                if refs:
                    found.append(ctx.task.reference(ctx.loss_fn, None if logits is None else logits.float(),
                                                    targets))  # None: a model computing its own loss shows no logits
    finally:
        for module, mode in zip(model.modules(), modes):
            module.training = mode
    mean = float(total / count.clamp_min(1))
    accuracy = float(hits / counted.clamp_min(1)) if with_hits else None
    return Evaluation(mean, accuracy, References.mean(found) if found else References())


def one_pass(ctx: Context, split: str, batches: int | None = None):
    """``(index, batch)`` over one pass of a loader (at most ``batches``), on the device."""
    try:
        limit = len(ctx.loader(split))
    except TypeError:
        limit = 10 ** 12
    if batches:
        limit = min(limit, int(batches))
    seen = 0
    for index, batch in ctx.stream(limit, split):
        if index == 0 and seen:
            return  # a loader without len(): the pass ended
        seen += 1
        yield index, batch


def eval_points(total: int, per_epoch: int, min_evals: int, by_steps: bool) -> list[int]:
    """Steps after which the validation loss is measured: every epoch's end (not with a step
    budget), and evenly spaced points when that gives fewer than ``min_evals``."""
    points = set() if by_steps else {e * per_epoch for e in range(1, total // per_epoch + 1)}
    if len(points) < min_evals:
        points |= {max(1, round(total * k / min_evals)) for k in range(1, min_evals + 1)}
    points.add(total)
    return sorted(p for p in points if 0 < p <= total)


@contextmanager
def progress(ctx: Context, total: int, description: str):
    """A rich progress bar on stderr with an ETA and a description that changes (trial i of n,
    epoch); silent with --quiet or off a terminal. Yields ``update(advance=1, description=None)``."""
    import sys

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, \
        TimeRemainingColumn

    disabled = ctx.quiet or not sys.stderr.isatty()
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(), console=Console(stderr=True),
                  transient=True, disable=disabled) as bar:
        task = bar.add_task(description, total=total)

        def update(advance: int = 1, description: str | None = None) -> None:
            bar.update(task, advance=advance, **({"description": description} if description else {}))

        yield update


def fall(initial: float, value: float, floor: float | None) -> float:
    """The share of the way from ``initial`` down to the floor that ``value`` is (0 at init, 1 at the floor)."""
    if not (math.isfinite(initial) and math.isfinite(value)):
        return -math.inf
    base = floor if floor is not None else 0.0
    span = initial - base
    if span <= 0:
        return 0.0
    return (initial - value) / span
