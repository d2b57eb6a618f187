"""Recipe step 3: the LR range test. Train from the initial weights while the learning rate grows
exponentially (or linearly) from ``start_lr`` to ``end_lr``, stop once the loss diverges, and
read suggestions off the smoothed curve by more than one rule. With ``probe``: short trainings
from the same init at candidate learning rates, and which one makes the loss fall most.

All state lives in memory: the initial weights are cloned once, the user's model object is handed
back by ``ctx.model()``, the RNG by the runner. Losses stay on the device and are checked in
chunks (one host synchronisation per chunk).
"""

from __future__ import annotations

import math

import torch

from dlcheck import lr_rules
from dlcheck.context import Context
from dlcheck.device import seed_everything
from dlcheck.results import CheckResult, rounded
from dlcheck.training import Trainer

NAME = "lr-find"
SETTINGS = {
    "start_lr": 1e-7,
    "end_lr": 10.0,
    "steps": 100,  # steps of the sweep
    "linear": False,  # linear instead of exponential spacing
    "beta": 0.9,  # EMA smoothing of the loss (bias-corrected)
    "diverge_factor": 4.0,  # stop when the smoothed loss exceeds this x the best so far
    "min_points": 15,  # fewer usable points than this: the curve is unusable (DLC305)
    "flat_fraction": 0.95,  # the best smoothed loss above this x the first: no LR helps (DLC301)
    "far_below": 10.0,  # the configured LR this many times below the suggestion: DLC303
    "disagree": 10.0,  # rules further apart than this factor: DLC304
    "chunk": 10,  # steps between host synchronisations
    "probe": False,  # also run short trainings at candidate LRs (recipe step 3)
    "probe_lrs": [1e-1, 1e-2, 1e-3, 1e-4],
    "probe_steps": 100,
}


def run(ctx: Context) -> CheckResult:
    s = ctx.settings
    result = ctx.result
    steps = int(s["steps"])
    if steps < 3 or int(s["probe_steps"]) < 1 or not 0 < float(s["start_lr"]) < float(s["end_lr"]):
        from dlcheck.errors import UserError

        raise UserError(f"lr-find needs steps >= 3, probe_steps >= 1 and 0 < start_lr < end_lr, got "
                        f"steps={steps}, probe_steps={s['probe_steps']}, start_lr={s['start_lr']:g}, "
                        f"end_lr={s['end_lr']:g}")
    lrs = schedule(float(s["start_lr"]), float(s["end_lr"]), steps, bool(s["linear"]))
    with ctx.model() as model:
        model.train()
        # the probe's candidates all start from these weights (cloned in memory, only when needed)
        initial = {k: v.detach().clone() for k, v in model.state_dict().items()} if s["probe"] else None
        losses = _sweep(ctx, model, lrs)
        probe_rows = _probe(ctx, model, initial) if s["probe"] else None
    smoothed = lr_rules.smooth(losses, float(s["beta"]))
    _judge(ctx, lrs[:len(losses)], losses, smoothed, steps)
    _write_curve(ctx, lrs[:len(losses)], losses, smoothed)
    if probe_rows is not None:
        _report_probe(ctx, probe_rows)
    return result


def schedule(start: float, end: float, steps: int, linear: bool) -> list[float]:
    if linear:
        return [start + (end - start) * i / (steps - 1) for i in range(steps)]
    return [start * (end / start) ** (i / (steps - 1)) for i in range(steps)]


def _set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def _sweep(ctx: Context, model, lrs: list[float]) -> list[float]:
    """Losses of the sweep, as host floats, up to and including the step where it diverged."""
    s = ctx.settings
    chunk = max(1, int(s["chunk"]))
    optimizer = ctx.optimizer(model.parameters(), lr=lrs[0])
    trainer = Trainer(ctx, model, optimizer)
    pending, losses = [], []
    with ctx.progress(len(lrs), "lr-find") as advance:
        for (index, batch), lr in zip(ctx.stream(len(lrs)), lrs):
            _set_lr(optimizer, lr)
            pending.append(trainer.step(batch, index).loss.float())
            advance()
            if len(pending) < chunk and len(losses) + len(pending) < len(lrs):
                continue
            losses += torch.stack(pending).tolist()  # one transfer per chunk
            pending = []
            smoothed = lr_rules.smooth(losses, float(s["beta"]))
            stop = lr_rules.divergence_index(smoothed, float(s["diverge_factor"]), skip=1)
            if stop is not None:
                return losses[:stop + 1]
            if ctx.out_of_time():
                break
    return losses


def _judge(ctx: Context, lrs: list[float], losses: list[float], smoothed: list[float], planned: int) -> None:
    s = ctx.settings
    result = ctx.result
    stop = lr_rules.divergence_index(smoothed, float(s["diverge_factor"]), skip=1)
    diverge_lr = lrs[stop] if stop is not None else None
    usable = stop if stop is not None else len(smoothed)  # points before the divergence
    curve_lrs, curve = lrs[:usable], smoothed[:usable]
    m = result.metrics
    m.update({"steps": len(losses), "planned_steps": planned, "lr": ctx.lr,
              "lr_configured": ctx.lr_override is not None or ctx.target.lr is not None,
              "diverge_lr": rounded(diverge_lr)})
    if usable < int(s["min_points"]):
        where = f"it diverged at lr {diverge_lr:.3g}" if diverge_lr else "the sweep stopped early"
        result.summary = f"only {usable} usable points: {where}"
        result.add("DLC305", f"only {usable} points before the loss diverged ({where}); lower "
                             f"--start-lr (now {s['start_lr']:g}) or raise --steps")
        return
    finite = [v for v in curve if math.isfinite(v)]
    first, best = curve[0], min(finite)
    m.update({"initial_loss": rounded(first), "min_loss": rounded(best), "min_loss_lr": rounded(curve_lrs[curve.index(best)])})
    if first - best < (1 - float(s["flat_fraction"])) * abs(first):  # fell by less than 5 %
        result.summary = (f"no learning rate from {lrs[0]:.3g} to {lrs[-1]:.3g} made the loss fall "
                          f"(smoothed {first:.3g} -> best {best:.3g})")
        result.add("DLC301", result.summary)
        return
    rules = suggestions(curve_lrs, curve)
    m.update({f"{name}_lr": rounded(lr) for name, lr in rules.items()})
    if not rules:
        result.summary = "the curve has no falling stretch to suggest from"
        result.add("DLC305", result.summary)
        return
    suggested = primary(rules)
    blended = {name: lr for name, lr in rules.items() if name in BLEND}
    factor = lr_rules.spread(list(blended.values()))  # how far the rules behind the suggestion agree
    m.update({"suggested_lr": rounded(suggested), "rules_spread": rounded(factor)})
    shown = ", ".join(f"{name} {lr:.2g}" for name, lr in rules.items())
    result.summary = f"suggested lr {suggested:.2g} ({shown})" + \
        (f"; diverges from {diverge_lr:.2g}" if diverge_lr else "")
    result.details["suggestions"] = [{"rule": name, "lr": rounded(lr), "blended": name in BLEND}
                                     for name, lr in rules.items()]
    if factor > float(s["disagree"]):
        result.add("DLC304", f"the rules behind the suggestion are {factor:.0f}x apart ({shown})")
    _judge_configured(ctx, suggested, diverge_lr)


def suggestions(lrs: list[float], smoothed: list[float]) -> dict[str, float]:
    """Every rule's suggestion on a smoothed, divergence-cut curve (rules that find nothing are left out)."""
    out = {}
    i = lr_rules.steepest(lrs, smoothed)
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


def _judge_configured(ctx: Context, suggested: float, diverge_lr: float | None) -> None:
    s = ctx.settings
    lr = ctx.lr
    configured = ctx.lr_override is not None or ctx.target.lr is not None
    source = "--lr" if ctx.lr_override is not None else ("the target's lr" if configured else
                                                          "the default lr (the target sets none)")
    severity = None if configured else "info"
    if diverge_lr is not None and lr >= diverge_lr:
        ctx.result.add("DLC302", f"{source} {lr:g} is at or above {diverge_lr:.2g}, where the loss "
                                 f"diverged in the sweep; suggested {suggested:.2g}", severity=severity)
    elif lr * float(s["far_below"]) < suggested:
        ctx.result.add("DLC303", f"{source} {lr:g} is {suggested / lr:.0f}x below the suggested "
                                 f"{suggested:.2g}", severity=severity)


# -- the probe (recipe step 3: short runs at candidate LRs) ---------------------------------------
def _probe(ctx: Context, model, initial: dict) -> list[dict]:
    s = ctx.settings
    steps = int(s["probe_steps"])
    window = max(1, min(10, steps // 5))
    rows = []
    for lr in [float(v) for v in s["probe_lrs"]]:
        model.load_state_dict(initial)  # the same init for every candidate, from memory
        seed_everything(ctx.seed)  # the same dropout draws, and the same order from a loader that shuffles with the global RNG
        trainer = Trainer(ctx, model, ctx.optimizer(model.parameters(), lr=lr))
        losses = torch.stack([trainer.step(batch, i).loss.float()
                              for i, batch in ctx.stream(steps)]).tolist()
        start = losses[0]  # the loss at the shared init: the same for every candidate
        end = sum(losses[-window:]) / window
        ok = math.isfinite(end) and math.isfinite(start)
        rows.append({"lr": lr, "initial_loss": rounded(start), "final_loss": rounded(end) if ok else str(end),
                     "drop": rounded((start - end) / start) if ok and start else None})
        if ctx.out_of_time():
            break
    return rows


def _report_probe(ctx: Context, rows: list[dict]) -> None:
    ctx.result.details["probe"] = rows
    scored = [r for r in rows if r["drop"] is not None]
    if scored:
        best = max(scored, key=lambda r: r["drop"])
        ctx.result.metrics["probe_best_lr"] = best["lr"]
        ctx.result.summary += f"; probe: best of {len(rows)} is lr {best['lr']:g} (loss -{best['drop']:.0%})"


# -- artifacts --------------------------------------------------------------------------------------
def _write_curve(ctx: Context, lrs, losses, smoothed) -> None:
    ctx.write_csv("curve.csv", [{"step": i + 1, "lr": lr, "loss": loss, "smoothed": sm}
                                for i, (lr, loss, sm) in enumerate(zip(lrs, losses, smoothed))])
    path = ctx.artifact("curve.png")
    if path is not None:
        from dlcheck.render.plots import lr_curve

        marks = {k[:-3]: v for k, v in ctx.result.metrics.items()
                 if k.endswith("_lr") and k not in ("diverge_lr", "min_loss_lr", "probe_best_lr") and v}
        lr_curve(path, lrs, losses, smoothed, marks=marks, configured=ctx.lr,
                 diverge=ctx.result.metrics.get("diverge_lr"))
