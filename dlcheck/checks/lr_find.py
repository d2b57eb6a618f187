"""Recipe step 3: the LR range test. Train from the initial weights while the learning rate grows
exponentially (or linearly) from ``start_lr`` to ``end_lr``, stop once the loss diverges, and
read suggestions off the smoothed curve by more than one rule. The probe: short trainings from
the same init at fixed candidate learning rates, and which one makes the loss fall most.

Every loss is judged against the loss at init (the mean of the sweep's first steps, where the LR
is too small to train), its batch-to-batch noise, and the task's floor (0 for hard labels and
regression, the smoothed targets' entropy under label smoothing): "the loss fell" means the same
share of the way down on every task. A sweep that shows no fall is not yet a dead model: a model
that plateaus before it learns (a recurrent net at ln C) passes a 100-step sweep by, so the probe
runs before the verdict, and DLC301 fails only when nothing falls there either. The LR judged is
the one the user's optimizer factory really sets (``ctx.effective_lr``).

All state lives in memory: the initial weights are cloned once, the user's model object is handed
back by ``ctx.model()``, the RNG by the runner. Losses stay on the device and are read in chunks
(one host synchronisation per chunk).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from dlcheck import lr_rules
from dlcheck.context import Context
from dlcheck.device import seed_everything
from dlcheck.lr_rules import Curve, Run
from dlcheck.results import CheckResult, rounded
from dlcheck.training import Trainer, chunk_losses

NAME = "lr-find"
SETTINGS = {
    "start_lr": 1e-7,
    "end_lr": 10.0,
    "steps": 100,  # steps of the sweep
    "linear": False,  # linear instead of exponential spacing
    "beta": 0.9,  # EMA smoothing of the loss (bias-corrected)
    "diverge_factor": 4.0,  # stop when the smoothed loss, measured from the floor, exceeds this x the best so far
    "min_points": 15,  # fewer usable points than this: the curve is unusable (DLC305)
    "noise_steps": 10,  # the sweep's first steps (LR still too small to train): the loss at init and its noise
    "noise_z": 3.0,  # a fall counts only when it is more than this many standard errors of that noise
    "min_fall": 0.05,  # "the loss fell": by at least this share of the way from init to the floor (DLC301/306)
    "onset_fall": 0.02,  # the rules read the curve only from where it is this share (and beyond noise) below init
    "slow_fall": 0.10,  # your LR trains when probe_steps steps at it bring the loss this share of the way down (else DLC303)
    "far_below": 10.0,  # the LR this many times below the suggestion: checked by a short run at it (DLC303)
    "disagree": 10.0,  # rules further apart than this factor: DLC304
    "chunk": 10,  # steps between host synchronisations
    "probe": False,  # also run the probe when the sweep did show a fall (recipe step 3)
    "auto_probe": True,  # run the probe before failing a sweep that shows no fall (plateau or dead model?)
    "probe_lrs": [1e-1, 1e-2, 1e-3, 1e-4],
    "probe_steps": 100,
}


@dataclass
class Evidence:
    """What lr-find measured, for the rules below: the sweep, the probe's runs, the LR judged."""

    curve: Curve
    lr: float  # the LR the user's optimizer really trains at (ctx.effective_lr)
    configured: bool  # the user chose it (--lr, the target's lr, or a factory that sets its own)
    source: str  # where that LR comes from, in words
    probe: list[Run] | None = None  # fixed-LR runs at probe_lrs (None: not run)
    yours: Run | None = None  # the fixed-LR run at the user's LR, when one was needed
    rules: dict[str, float] = field(default_factory=dict)  # rule -> suggested LR (sweep)
    suggested: float | None = None  # the one suggestion (the blend, or the probe's best)


def run(ctx: Context) -> CheckResult:
    s = ctx.settings
    steps = int(s["steps"])
    if steps < 3 or int(s["probe_steps"]) < 1 or not 0 < float(s["start_lr"]) < float(s["end_lr"]):
        from dlcheck.errors import UserError

        raise UserError(f"lr-find needs steps >= 3, probe_steps >= 1 and 0 < start_lr < end_lr, got "
                        f"steps={steps}, probe_steps={s['probe_steps']}, start_lr={s['start_lr']:g}, "
                        f"end_lr={s['end_lr']:g}")
    if ctx.task.problem:  # a loss that cannot fall has no learning rate (init-loss, overfit-small fail)
        return ctx.result.skip(f"nothing to sweep: {ctx.task.problem}")
    lrs = schedule(float(s["start_lr"]), float(s["end_lr"]), steps, bool(s["linear"]))
    lr = ctx.effective_lr
    with ctx.model() as model:
        model.train()
        # fixed-LR runs all start from these weights (cloned in memory once)
        initial = {k: v.detach().clone() for k, v in model.state_dict().items()}
        losses, floor = _sweep(ctx, model, lrs)
        curve = _measure(ctx, lrs, losses, floor)
        ev = Evidence(curve=curve, lr=lr, **_whose(ctx, lr))
        runs = _Runs(ctx, model, initial, curve)
        usable = curve.usable >= int(s["min_points"])
        if usable and (s["probe"] or (s["auto_probe"] and not _sweep_fell(ctx, curve))):
            ev.probe = [runs.at(float(v)) for v in s["probe_lrs"]]
            if not s["probe"] or not _sweep_fell(ctx, curve):
                ev.yours = runs.yours()  # a plateau: does the user's own LR get off it?
        _judge(ctx, ev, runs)
    _write_curve(ctx, curve)
    if ev.probe is not None:
        _report_probe(ctx, ev)
    return ctx.result


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
    base = [float(g["lr"]) for g in optimizer.param_groups]
    top = max(base, default=0.0)
    ratios = [b / top if top > 0 else 1.0 for b in base]

    def set_lr(lr: float) -> None:
        for group, ratio in zip(optimizer.param_groups, ratios):
            if isinstance(group["lr"], torch.Tensor):
                group["lr"].fill_(lr * ratio)
            else:
                group["lr"] = lr * ratio

    return set_lr


def _sweep(ctx: Context, model, lrs: list[float]) -> tuple[list[float], float | None]:
    """Losses of the sweep, as host floats, up to and including the step where it diverged; and
    the task's floor, from the first step's outputs."""
    s = ctx.settings
    chunk = max(1, int(s["chunk"]))
    optimizer = ctx.optimizer(model.parameters(), lr=lrs[0])
    set_lr = _lr_setter(optimizer)
    trainer = Trainer(ctx, model, optimizer)
    pending, losses, first, floor = [], [], None, None  # first: the first step's output, until read
    with ctx.progress(len(lrs), "lr-find") as advance:
        for (index, batch), lr in zip(ctx.stream(len(lrs)), lrs):
            set_lr(lr)
            out = trainer.step(batch, index)
            pending.append(out.loss.float())
            if not losses and first is None:
                first = out
            advance()
            if len(pending) < chunk and len(losses) + len(pending) < len(lrs):
                continue
            losses += chunk_losses(pending).tolist()  # one transfer per chunk (all ranks' mean)
            pending = []
            if first is not None:  # once: the floor from the first step's outputs (a few syncs)
                floor, first = _floor(ctx, first), None
            curve = _measure(ctx, lrs, losses, floor)
            if curve.diverge_lr is not None:
                return losses[:curve.usable + 1], floor
            if ctx.out_of_time():
                break
    return losses, floor


def _measure(ctx: Context, lrs: list[float], losses: list[float], floor: float | None) -> Curve:
    s = ctx.settings
    return lr_rules.measure(lrs, losses, beta=float(s["beta"]), factor=float(s["diverge_factor"]),
                            window=int(s["noise_steps"]), floor=floor, z=float(s["noise_z"]),
                            onset_share=float(s["onset_fall"]))


def _floor(ctx: Context, out) -> float | None:
    """The task's lowest reachable loss on the first batch (None where the task has none)."""
    from dlcheck import distributed

    refs = distributed.mean_refs(ctx.task.reference(ctx.loss_fn, out.outputs, out.targets, out.raw))
    if refs.floor is not None:
        return refs.floor
    return ctx.task.references.get("floor") if ctx.task.has_references else None


class _Runs:
    """Short trainings at a fixed LR from the same init and data order, each run at most once."""

    def __init__(self, ctx: Context, model, initial: dict, curve: Curve):
        self.ctx, self.model, self.initial, self.curve = ctx, model, initial, curve
        self.done: dict = {}

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
        pending, losses = [], []
        for i, batch in ctx.stream(steps):
            pending.append(trainer.step(batch, i).loss.float())
            if len(pending) == chunk:
                losses += chunk_losses(pending).tolist()  # one transfer per chunk (all ranks' mean)
                pending = []
                if not all(map(math.isfinite, losses[-chunk:])):
                    break  # blew up: no need to train on
        if pending:
            losses += chunk_losses(pending).tolist()
        c = self.curve
        return Run(lr=lr, losses=losses, initial=c.initial, noise=c.noise, floor=c.floor,
                   init_window=c.window, window=max(1, min(10, steps // 5)))


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


# -- the rules: one per finding, each reading the Evidence ----------------------------------------
def _sweep_fell(ctx: Context, curve: Curve) -> bool:
    s = ctx.settings
    return curve.fell(float(s["min_fall"]), float(s["noise_z"]))


def _run_fell(ctx: Context, run: Run, share: float) -> bool:
    return run.fell(share, float(ctx.settings["noise_z"]))


def _judge(ctx: Context, ev: Evidence, runs: _Runs) -> None:
    s = ctx.settings
    result, c = ctx.result, ev.curve
    m = result.metrics
    m.update({"steps": len(c.losses), "planned_steps": int(s["steps"]), "lr": ctx.lr,
              "effective_lr": rounded(ev.lr), "lr_configured": ev.configured,
              "diverge_lr": rounded(c.diverge_lr)})
    if c.usable < int(s["min_points"]):  # DLC305: too few points to read
        where = f"it diverged at lr {c.diverge_lr:.3g}" if c.diverge_lr else "the sweep stopped early"
        result.summary = f"only {c.usable} usable points: {where}"
        result.add("DLC305", f"only {c.usable} points before the loss diverged ({where}); lower "
                             f"--start-lr (now {s['start_lr']:g}) or raise --steps")
        return
    m.update({"initial_loss": rounded(c.initial), "loss_noise": rounded(c.noise), "floor": rounded(c.floor),
              "min_loss": rounded(c.best), "min_loss_lr": rounded(c.lrs[c.best_index]), "fall": rounded(c.fall)})
    if not _sweep_fell(ctx, c):
        _judge_no_fall(ctx, ev)
    else:
        _judge_curve(ctx, ev)
    if ev.suggested is not None:
        _judge_configured(ctx, ev, runs)
        _judge_world_size(ctx, ev)


def _judge_curve(ctx: Context, ev: Evidence) -> None:
    """The sweep fell: suggestions by every rule, read only where the loss measurably moved."""
    s, result, c = ctx.settings, ctx.result, ev.curve
    onset = c.onset(float(s["onset_fall"]), float(s["noise_z"]))
    start = max(c.window, onset - 1) if onset is not None else c.window
    ev.rules = suggestions(c.lrs[start:c.usable], c.smoothed[start:c.usable], lowest=c.best_index - start)
    result.metrics["onset_lr"] = rounded(c.lrs[onset]) if onset is not None else None
    result.metrics.update({f"{name}_lr": rounded(lr) for name, lr in ev.rules.items()})
    if not ev.rules:
        result.summary = "the curve has no falling stretch to suggest from"
        result.add("DLC305", result.summary)
        return
    ev.suggested = primary(ev.rules)
    blended = {name: lr for name, lr in ev.rules.items() if name in BLEND}
    factor = lr_rules.spread(list(blended.values()))  # how far the rules behind the suggestion agree
    result.metrics.update({"suggested_lr": rounded(ev.suggested), "rules_spread": rounded(factor)})
    shown = ", ".join(f"{name} {lr:.2g}" for name, lr in ev.rules.items())
    result.summary = f"suggested lr {ev.suggested:.2g} ({shown})" + \
        (f"; diverges from {c.diverge_lr:.2g}" if c.diverge_lr else "")
    result.details["suggestions"] = [{"rule": name, "lr": rounded(lr), "blended": name in BLEND}
                                     for name, lr in ev.rules.items()]
    if factor > float(s["disagree"]):  # DLC304
        result.add("DLC304", f"the rules behind the suggestion are {factor:.0f}x apart ({shown})")


def _judge_no_fall(ctx: Context, ev: Evidence) -> None:
    """DLC301 when nothing falls, in the sweep nor at any fixed LR; DLC306 when only the sweep
    saw no fall (a plateau it passed by)."""
    s, result, c = ctx.settings, ctx.result, ev.curve
    to = f" (floor {c.floor:.3g})" if c.floor is not None else ""
    seen = (f"the sweep's loss did not fall from lr {c.lrs[0]:.3g} to {c.lrs[c.usable - 1]:.3g}: "
            f"{c.initial:.3g} at init, at best {c.best:.3g}, {max(c.fall, 0):.0%} of the way to the floor{to}")
    runs = [r for r in (ev.probe or []) + ([ev.yours] if ev.yours else []) if r is not None]
    fell = [r for r in runs if _run_fell(ctx, r, float(s["min_fall"]))]
    if not fell:
        tried = f"; nor did {s['probe_steps']} steps at a fixed lr of " + \
            ", ".join(f"{lr:g}" for lr in sorted({r.lr for r in runs}, reverse=True)) if runs else ""
        result.summary = "no learning rate made the loss fall: " + seen + tried
        result.add("DLC301", result.summary)
        return
    best = max(fell, key=lambda r: r.fall)
    ev.suggested = best.lr
    steps = int(s["steps"])
    per_decade = steps / max(math.log10(float(s["end_lr"]) / float(s["start_lr"])), 1e-9)
    result.metrics.update({"suggested_lr": rounded(best.lr), "suggested_by": "probe"})
    result.summary = (f"plateau: the sweep saw no fall, {s['probe_steps']} steps at lr {best.lr:g} "
                      f"brought the loss {best.fall:.0%} of the way to the floor; suggested lr {best.lr:g}")
    yours_fell = ev.yours is not None and ev.yours in fell
    if yours_fell:  # the user's own LR trains: the sweep's limit, not a problem of the set-up
        result.summary += f"; your lr {ev.yours.lr:g} brought it {ev.yours.fall:.0%} of the way too"
    result.add("DLC306", f"{seen}; but {s['probe_steps']} steps at a fixed lr {best.lr:g} brought it "
                         f"{c.initial:.3g} -> {best.end:.3g} ({best.fall:.0%} of the way down): the model "
                         f"sits on a plateau before it learns, and a {steps}-step sweep (about "
                         f"{per_decade:.0f} steps per decade of lr) moves on before it gets off",
               advice=f"The model is not dead. For a curve, sweep longer (--steps {4 * steps}) "
                      f"or over a narrower range (--start-lr {best.lr / 100:.0e}); otherwise train at "
                      f"the probe's best lr {best.lr:g}, or one near it that fell too.",
               severity="info" if yours_fell else None)


def suggestions(lrs: list[float], smoothed: list[float], lowest: int | None = None) -> dict[str, float]:
    """Every rule's suggestion on a smoothed, divergence-cut curve (rules that find nothing are left
    out). Steepest descent looks only up to the curve's lowest point (index ``lowest``): a fall
    after it is a recovery from a spike, not what the LR does."""
    out = {}
    end = len(smoothed) if lowest is None else max(0, min(len(smoothed), lowest + 2))
    i = lr_rules.steepest(lrs[:end], smoothed[:end])
    if i is not None:
        out["steepest"] = lrs[i]
    i = lr_rules.valley(smoothed)
    if i is not None:
        out["valley"] = lrs[i]
    lr = lr_rules.minimum_over_ten(lrs, smoothed)
    if lr is not None:
        out["minimum/10"] = lr
    return out


#: The rules the one suggestion is made of, with their weights in log-LR. On the grid-oracle
#: benchmark (benchmarks/lr_quality.py) steepest descent sits above the best LR and minimum/10
#: below it, the best LR about a third of the way up from minimum/10; the weights were calibrated
#: there (and checked on a task held out of the calibration). The valley rule is reported but not
#: blended: it swings by decades.
BLEND = {"steepest": 1.0, "minimum/10": 2.0}


def primary(rules: dict[str, float]) -> float:
    """The one suggestion: the weighted geometric mean of the BLEND rules that found something
    (else the plain geometric mean of all)."""
    chosen = {name: lr for name, lr in rules.items() if name in BLEND}
    if not chosen:
        return lr_rules.geometric_mean(list(rules.values()))
    total = sum(BLEND[name] for name in chosen)
    return math.exp(sum(BLEND[name] * math.log(lr) for name, lr in chosen.items()) / total)


def _judge_configured(ctx: Context, ev: Evidence, runs: _Runs) -> None:
    """DLC302: the user's LR is where the sweep diverged. DLC303: far below the suggestion, and a
    short run at it does not make the loss fall (far below alone is information: a short sweep's
    optimum sits above the best LR of a full run)."""
    s, c, lr, suggested = ctx.settings, ev.curve, ev.lr, ev.suggested
    severity = None if ev.configured else "info"
    if c.diverge_lr is not None and lr >= c.diverge_lr:
        ctx.result.add("DLC302", f"{ev.source} {lr:g} is at or above {c.diverge_lr:.2g}, where the loss "
                                 f"diverged in the sweep; suggested {suggested:.2g}", severity=severity)
        return
    if lr * float(s["far_below"]) >= suggested:
        return
    below = f"{ev.source} {lr:g} is {suggested / lr:.0f}x below the suggested {suggested:.2g}"
    onset = c.onset(float(s["onset_fall"]), float(s["noise_z"]))
    if onset is not None and c.lrs[onset] <= lr:
        ctx.result.add("DLC303", f"{below}, but in the sweep the loss was already falling at lr "
                                 f"{c.lrs[onset]:.2g}: it trains, if slowly", severity="info")
        return
    if not ev.configured:  # dlcheck's own default is no one's mistake: not worth a run
        ctx.result.add("DLC303", below, severity="info")
        return
    if ev.yours is None:
        ev.yours = runs.yours()
    run = ev.yours
    ctx.result.metrics["your_lr_fall"] = rounded(run.fall) if math.isfinite(run.fall) else None
    if _run_fell(ctx, run, float(s["slow_fall"])):
        ctx.result.add("DLC303", f"{below}, but {len(run.losses)} steps at it brought the loss "
                                 f"{run.fall:.0%} of the way to the floor: it trains", severity="info")
        return
    what = f"{run.fall:.0%} of the way to the floor" if run.finite else "to a non-finite loss"
    ctx.result.add("DLC303", f"{below}, and {len(run.losses)} steps at it brought the loss only "
                             f"{what} ({run.initial:.3g} -> {run.end:.3g})", severity=severity)


#: Powers of the world size a factory's LR scaling is recognised as (linear, square root, squared).
WORLD_POWERS = {1.0: "N", 0.5: "sqrt(N)", 2.0: "N^2"}


def _judge_world_size(ctx: Context, ev: Evidence) -> None:
    """DLC016, under torchrun with N > 1 ranks: the optimizer factory multiplies the lr it is
    handed by a power of the world size (N, sqrt(N), N^2, within 2 %), and the LR it then trains
    at is at or above where the sweep diverged, or more than far_below (10x) above the
    suggestion. The sweep runs in DDP (gradients averaged over ranks), so its suggestion is
    already for the global batch: a scaling on top of an LR that was right for it, or a second
    scaling, is what overshoots. A factory that scales and stays in range is not flagged."""
    from dlcheck import distributed

    world = distributed.world_size()
    c, lr, suggested = ev.curve, ev.lr, ev.suggested
    if world < 2 or suggested is None or not ctx.lr or ctx.target.optimizer is None:
        return
    scale = lr / ctx.lr
    power = next((k for k in WORLD_POWERS if math.isclose(scale, world ** k, rel_tol=0.02)), None)
    if power is None:
        return
    diverges = c.diverge_lr is not None and lr >= c.diverge_lr
    too_far = lr > float(ctx.settings["far_below"]) * suggested
    if not (diverges or too_far):
        return
    where = (f"at or above {c.diverge_lr:.2g}, where the sweep diverged" if diverges else
             f"{lr / suggested:.0f}x the suggested {suggested:.2g}")
    ctx.result.metrics["lr_world_scale"] = rounded(scale)
    ctx.result.add("DLC016", f"your optimizer factory multiplies the lr it is handed ({ctx.lr:g}) by "
                             f"{scale:g} = {WORLD_POWERS[power]} for the {world} ranks and trains at "
                             f"{lr:g}, {where} for the global batch; lr-find's suggestion "
                             f"{suggested:.2g} is already for the global batch (DDP averages the "
                             f"ranks' gradients): the lr was scaled for the world size twice, or "
                             f"scaled although it was tuned for the global batch")


# -- the probe (recipe step 3: short runs at candidate LRs) ---------------------------------------
def _report_probe(ctx: Context, ev: Evidence) -> None:
    rows = [_row(ctx, r) for r in ev.probe]
    ctx.result.details["probe"] = rows
    if ev.yours is not None:
        ctx.result.details["your_lr_run"] = _row(ctx, ev.yours)
    scored = [r for r in rows if r["drop"] is not None]
    if scored and _sweep_fell(ctx, ev.curve):  # (after no fall in the sweep, the summary says it)
        best = max(scored, key=lambda r: r["drop"])
        ctx.result.metrics["probe_best_lr"] = best["lr"]
        ctx.result.summary += (f"; probe: best of {len(rows)} is lr {best['lr']:g} "
                               f"({best['drop']:.0%} of the way to the floor)")


def _row(ctx: Context, run: Run) -> dict:
    ok = math.isfinite(run.end)
    return {"lr": run.lr, "steps": len(run.losses),
            "initial_loss": rounded(run.losses[0]) if run.losses else None,
            "final_loss": rounded(run.end) if ok else str(run.end),
            "drop": rounded(run.fall) if ok else None,  # share of the way from init to the floor
            "fell": _run_fell(ctx, run, float(ctx.settings["min_fall"]))}


# -- artifacts --------------------------------------------------------------------------------------
def _write_curve(ctx: Context, c: Curve) -> None:
    ctx.result.table("curve.csv", [{"step": i + 1, "lr": lr, "loss": loss, "smoothed": sm}
                                   for i, (lr, loss, sm) in enumerate(zip(c.lrs, c.losses, c.smoothed))])
    m = ctx.result.metrics
    marks = {k[:-3]: m[k] for k in ("steepest_lr", "valley_lr", "minimum/10_lr", "suggested_lr") if m.get(k)}
    data = dict(lrs=list(c.lrs), losses=list(c.losses), smoothed=list(c.smoothed), marks=marks,
                configured=m.get("effective_lr") or ctx.lr, diverge=m.get("diverge_lr"))
    ctx.result.figure("lr_curve", "LR range test", file="curve.png", **data)
