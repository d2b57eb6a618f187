"""lr-find's measuring: the sweep (the LR growing step by step from the initial weights, stopped
once the loss diverges), its :class:`~dlcheck.lr_rules.Curve`, the suggestions read off it, and
the short fixed-LR runs (the probe, the run at your LR) that the verdict rests on; all into
:class:`Evidence`. All state lives in memory: the initial weights are cloned once, the user's
model object is handed back by ``ctx.model()``, the RNG by the runner. Losses stay on the device
and are read in chunks (one host synchronisation per chunk). Under a GradScaler (fp16 ``--amp``)
the steps it skipped are left out of the curve and of the fixed-LR runs: no optimizer step was
taken, so the loss after it says nothing of that step's LR (:func:`_Kept`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from dlcheck import distributed, lr_rules
from dlcheck.checks.lr_find.suggest import best_run, read, sweep_fell, your_run_judges
from dlcheck.context import Context
from dlcheck.device import seed_everything
from dlcheck.lr_rules import Curve, Run
from dlcheck.training import Trainer, chunk_losses, kept_losses
from dlcheck.training.step import skipped_mask


@dataclass
class Evidence:
    """What lr-find measured, for the rules (rules.py): the sweep, the probe's runs, the LR judged."""

    curve: Curve
    lr: float  # the LR the user's optimizer really trains at (ctx.effective_lr)
    configured: bool  # the user chose it (--lr, the target's lr, or a factory that sets its own)
    source: str  # where that LR comes from, in words
    probe: list[Run] | None = None  # fixed-LR runs at probe_lrs (None: not run)
    yours: Run | None = None  # the fixed-LR run at the user's LR, when one was needed
    rules: dict[str, float] = field(default_factory=dict)  # rule -> suggested LR (sweep)
    suggested: float | None = None  # the one suggestion (the blend, or the probe's best)
    handed_lr: float | None = None  # the lr the optimizer factory is handed (ctx.lr)
    factory: bool = False  # the target has its own optimizer factory
    plain_sgd: bool = False  # the optimizer is torch.optim.SGD without momentum (suggest.read scales the blend)
    world: int = 1  # ranks under torchrun
    cut: bool = False  # --budget ended the sweep before its last LR (nor did it diverge): not judged
    amp_skipped: int | None = None  # sweep steps the GradScaler skipped, left out of the curve (None: no scaler)
    amp_run: int = 0  # sweep steps run, the skipped ones too
    amp_skipped_runs: int | None = None  # steps of the fixed-LR runs it skipped (None: no scaler, or no run)


#: lr-find measures into its Evidence.
Measured = Evidence


def measure(ctx: Context) -> Evidence:
    """The sweep; the probe where the settings or a sweep without a fall ask for it; the
    suggestions; and the run at your LR where the verdict on it needs one."""
    s = ctx.settings
    lrs = schedule(float(s["start_lr"]), float(s["end_lr"]), int(s["steps"]), bool(s["linear"]))
    lr = ctx.effective_lr
    with ctx.model() as model:
        model.train()
        # fixed-LR runs all start from these weights (cloned in memory once)
        initial = {k: v.detach().clone() for k, v in model.state_dict().items()}
        kept = _Kept(lrs)
        losses, floor, plain = _sweep(ctx, model, lrs, kept)
        curve = _curve(ctx, kept.lrs, losses, floor)
        ev = Evidence(curve=curve, lr=lr, **_whose(ctx, lr), handed_lr=ctx.lr,
                      factory=ctx.target.optimizer is not None, world=distributed.world_size(),
                      amp_skipped=kept.skipped, amp_run=kept.run, plain_sgd=plain)
        ev.cut = kept.run < len(lrs) and curve.diverge_lr is None and ctx.out_of_time()
        runs = _Runs(ctx, model, initial, curve)
        usable = curve.usable >= int(s["min_points"]) and not ev.cut
        if usable and (s["probe"] or (s["auto_probe"] and not sweep_fell(curve, s))):
            ev.probe = [runs.at(float(v)) for v in s["probe_lrs"]]
            if not sweep_fell(curve, s):
                _probe_upward(ctx, ev, runs)
            if not s["probe"] or not sweep_fell(curve, s):
                ev.yours = runs.yours()  # a plateau: does the user's own LR get off it?
        read(ev, s)
        if not ev.cut and your_run_judges(ev, s) and ev.yours is None:
            ev.yours = runs.yours()  # far below the suggestion: does a short run at it train?
        ev.amp_skipped_runs = runs.skipped
    return ev


class _Kept:
    """The sweep's steps as the curve keeps them. Without a GradScaler: every step, its LR the
    schedule's (the schedule itself, nothing copied). Under one, a step it skipped is left out
    and does not count as a step of the sweep: no optimizer step was taken at its LR, and the
    next loss is of the same weights. Its LR is not tried again: whether a step was skipped is
    known only when the chunk is read (a host sync per step otherwise), by then the sweep is at
    higher LRs, and a sweep must rise; the steps it skips are those of the first steps at init
    (the scale settling, where the LR is too small to train) or at an overflowing LR, just before
    the divergence the curve then shows. So the curve is shorter by the steps skipped."""

    def __init__(self, schedule):
        self.schedule, self.lrs, self.run, self.skipped = schedule, schedule, 0, None

    def take(self, losses: torch.Tensor, skipped: list) -> list[float]:
        """A chunk's losses (1-D, on the device) as host floats, the skipped steps left out."""
        start, self.run = self.run, self.run + len(losses)
        mask = skipped_mask(skipped)
        if mask is None:
            return losses.tolist()
        if self.skipped is None:
            self.skipped, self.lrs = 0, []
        values, flags = losses.tolist(), mask.tolist()  # one transfer each, per chunk
        self.skipped += sum(flags)
        kept = [i for i, (v, f) in enumerate(zip(values, flags)) if not f or not math.isfinite(v)]  # kept_losses
        self.lrs += [self.schedule[start + i] for i in kept]
        return [values[i] for i in kept]


class schedule(Sequence):  # noqa: N801 - used like the function it replaces
    """The sweep's LR at each step, computed when asked (a billion steps cost no memory: the
    sweep reads it step by step and stops at the budget); indexing and slices as a list's."""

    def __init__(self, start: float, end: float, steps: int, linear: bool):
        self.start, self.end, self.steps, self.linear = start, end, steps, linear

    def __len__(self) -> int:
        return self.steps

    def _at(self, i: int) -> float:
        t = i / (self.steps - 1)
        if self.linear:
            return self.start + (self.end - self.start) * t
        return self.start * (self.end / self.start) ** t

    def __iter__(self):  # the sweep reads it step by step: no bounds checks per step
        return map(self._at, range(self.steps))

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self._at(j) for j in range(*i.indices(self.steps))]
        if i < 0:
            i += self.steps
        if not 0 <= i < self.steps:
            raise IndexError("schedule index out of range")
        return self._at(i)


def _lr_setter(optimizer: torch.optim.Optimizer):
    """A function setting the optimizer's LR: the largest param group gets it, the others keep
    the factory's ratios to it (a backbone at a tenth of the head's LR stays at a tenth)."""
    groups = optimizer.param_groups
    base = [float(g["lr"]) for g in groups]
    top = max(base, default=0.0)
    ratios = [b / top if top > 0 else 1.0 for b in base]
    if all(r == 1.0 and not isinstance(g["lr"], torch.Tensor) for g, r in zip(groups, ratios)):
        def set_plain(lr: float) -> None:  # float LRs, all alike (lr * 1.0 is lr): what a bare loop does
            for group in groups:
                group["lr"] = lr

        return set_plain

    def set_lr(lr: float) -> None:
        for group, ratio in zip(optimizer.param_groups, ratios):
            if isinstance(group["lr"], torch.Tensor):
                group["lr"].fill_(lr * ratio)
            else:
                group["lr"] = lr * ratio

    return set_lr


def _sweep(ctx: Context, model, lrs: list[float], kept: _Kept) -> tuple[list[float], float | None, bool]:
    """Losses of the sweep, as host floats, up to and including the step where it diverged (the
    steps a GradScaler skipped left out: ``kept``); the task's floor, from the first step's outputs;
    and whether the optimizer is plain SGD (no momentum)."""
    s = ctx.settings
    chunk = max(1, int(s["chunk"]))
    optimizer = ctx.optimizer(model.parameters(), lr=lrs[0])
    set_lr, plain = _lr_setter(optimizer), plain_sgd(optimizer)
    trainer = Trainer(ctx, model, optimizer)
    pending, skipped, first, floor, tracker = [], [], None, None, None  # first: the first step's output, until read
    steps, train = len(lrs), trainer.step
    with ctx.progress(steps, "lr-find") as advance:
        for step, ((index, batch), lr) in enumerate(zip(ctx.stream(steps), lrs)):
            set_lr(lr)
            out = train(batch, index, step == 0)  # the outputs of the first step: the floor
            pending.append(out.loss)
            skipped.append(out.skipped)
            if step == 0:
                first = out
            if len(pending) < chunk and step + 1 < steps:
                continue
            advance(len(pending))  # the bar moves per chunk: nothing per step
            values = kept.take(chunk_losses(pending), skipped)  # one transfer per chunk (all ranks' mean)
            pending, skipped = [], []
            if first is not None:  # once: the floor from the first step's outputs (a few syncs)
                floor, first = _floor(ctx, first), None
                tracker = _tracker(ctx, kept.lrs, floor)  # the LRs kept: the schedule, or a list it extends
            tracker.extend(values)
            stop = tracker.stop()  # the curve kept incrementally: flat bookkeeping per step
            if stop is not None:
                return tracker.losses[:stop + 1], floor, plain
            if ctx.out_of_time():
                break
    return tracker.losses if tracker is not None else [], floor, plain


def plain_sgd(optimizer: torch.optim.Optimizer) -> bool:
    """torch.optim.SGD (or a subclass) with no momentum in any param group."""
    return isinstance(optimizer, torch.optim.SGD) and all(not g.get("momentum") for g in optimizer.param_groups)


def _tracker(ctx: Context, lrs, floor: float | None) -> lr_rules.Tracker:
    s = ctx.settings
    return lr_rules.Tracker(lrs, beta=float(s["beta"]), factor=float(s["diverge_factor"]),
                            window=int(s["noise_steps"]), floor=floor, z=float(s["noise_z"]),
                            onset_share=float(s["onset_fall"]), planned=int(s["steps"]))


def _curve(ctx: Context, lrs: list[float], losses: list[float], floor: float | None) -> Curve:
    tracker = _tracker(ctx, lrs, floor)
    tracker.extend(losses)
    return tracker.curve()


def _floor(ctx: Context, out) -> float | None:
    """The task's lowest reachable loss on the first batch (None where the task has none)."""
    refs = distributed.mean_refs(ctx.task.reference(ctx.loss_fn, out.outputs, out.targets, out.raw))
    if refs.floor is not None:
        return refs.floor
    return ctx.task.references.get("floor") if ctx.task.has_references else None


def _probe_upward(ctx: Context, ev: Evidence, runs: _Runs) -> None:
    """After a sweep without a fall, while the probe's best run is its highest LR: a decade up, at most
    ``probe_up`` times and below where the sweep diverged (a larger step may get off the plateau
    faster, as plain SGD on a CNN does at lr 1)."""
    s = ctx.settings
    for _ in range(int(s["probe_up"])):
        best, top = best_run(ev, s), max(r.lr for r in ev.probe)
        lr = top * 10
        if best is None or best.lr != top or lr >= (ev.curve.diverge_lr or float(s["end_lr"])) or ctx.out_of_time():
            return
        ev.probe.append(runs.at(lr))


class _Runs:
    """Short trainings at a fixed LR from the same init and data order, each run at most once."""

    def __init__(self, ctx: Context, model, initial: dict, curve: Curve):
        self.ctx, self.model, self.initial, self.curve = ctx, model, initial, curve
        self.done: dict = {}
        self.skipped: int | None = None  # steps the GradScaler skipped in these runs (None: no scaler or no run)

    def at(self, lr: float) -> Run:
        """The user's optimizer set to ``lr`` (its param groups keeping their ratios)."""
        return self._run(lr, as_built=False)

    def yours(self) -> Run:
        """The user's optimizer exactly as the factory builds it when handed the user's lr."""
        ctx = self.ctx
        if ctx.target.optimizer is None or math.isclose(ctx.effective_lr, ctx.lr, rel_tol=1e-6):
            return self._run(ctx.effective_lr, as_built=False)  # the same run as the probe's at that LR
        return self._run(ctx.effective_lr, as_built=True)

    def _run(self, lr: float, as_built: bool) -> Run:
        key = (lr, as_built)
        if key not in self.done:
            self.done[key] = self._train(lr, as_built)
        return self.done[key]

    def _train(self, lr: float, as_built: bool) -> Run:
        ctx, model, s = self.ctx, self.model, self.ctx.settings
        steps, chunk = int(s["probe_steps"]), max(1, int(s["chunk"]))
        model.load_state_dict(self.initial)  # the same init for every run, from memory
        model.train()
        seed_everything(ctx.seed)  # the same dropout draws, and the same order from a loader that shuffles with the global RNG
        optimizer = ctx.optimizer(model.parameters(), lr=ctx.lr if as_built else lr)
        if not as_built:
            _lr_setter(optimizer)(lr)  # also where the factory ignores the lr it is handed
        trainer = Trainer(ctx, model, optimizer)
        pending, skipped, losses = [], [], []
        for i, batch in ctx.stream(steps):
            out = trainer.step(batch, i, outputs=False)
            pending.append(out.loss)
            skipped.append(out.skipped)
            if len(pending) == chunk:
                losses += self._take(pending, skipped)  # one transfer per chunk (all ranks' mean)
                pending, skipped = [], []
                if not all(map(math.isfinite, losses[-chunk:])):
                    break  # blew up: no need to train on
        if pending:
            losses += self._take(pending, skipped)
        c = self.curve
        return Run(lr=lr, losses=losses, initial=c.initial, noise=c.noise, floor=c.floor,
                   init_window=c.window, window=max(1, min(10, steps // 5)))


    def _take(self, pending: list, skipped: list) -> list[float]:
        """A chunk's losses as host floats, the steps a GradScaler skipped left out (and counted)."""
        kept, mask = kept_losses(chunk_losses(pending), skipped)
        if mask is not None:
            self.skipped = (self.skipped or 0) + int(mask.sum())
        return kept.tolist()


def _whose(ctx: Context, lr: float) -> dict:
    """Whether the user chose the LR judged, and where it comes from, in words."""
    if not math.isclose(lr, ctx.lr, rel_tol=1e-6):
        return {"configured": True, "source": f"the lr your optimizer factory sets ({lr:g}; it was handed "
                                              f"{ctx.lr:g}), which"}
    if ctx.lr_override is not None:
        return {"configured": True, "source": "--lr"}
    if ctx.target.lr is not None:
        return {"configured": True, "source": "the target's lr"}
    return {"configured": False, "source": "the default lr (the target sets none)"}


