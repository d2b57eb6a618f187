"""Tuning step 4: a coarse grid of learning rates x weight decays, each trial trained for a few
epochs (1 by default) from the same initial weights with the same batch order, judged on the
validation loss. The search runs on Optuna: a study with a grid sampler over the cells, each
trial's validation losses reported as it trains so a pruner (median, or successive halving) stops
hopeless trials, and an optional storage (``--storage sqlite:///grid.db``) that makes a grid
resumable after a crash and lets several processes or machines work on one grid at once.

The centre of the LR axis is the LR the user trains with (``--lr`` or the target's ``lr``), else
lr-find's suggestion computed on the spot; the weight decay is set on the param groups of the
user's own optimizer factory, so the optimizer searched is the user's.

Workers never run a cell twice: a worker claims a cell by creating a running trial for it (its
cell in the same insert), then checks the storage, and of two claims on one cell the lower trial
id wins (the loser's trial is marked failed before it trains). Optuna's own GridSampler can hand
the same cell to two workers at once (its documentation says so), and its trial queue can hand one
waiting trial to two workers on SQLite; this protocol rules both out.
Trials of a worker that died stop sending heartbeats and are failed after a grace period, so
their cells are run again by whoever resumes the grid.

The package: ``trials`` (the cells, outcomes and the trial runner), ``study`` (the Optuna study
and the claim protocol), ``rules`` (one pure rule per finding code, the summary and metrics). The
loop library it shares with curves lives in ``dlcheck.training``.
"""

from __future__ import annotations

import math

from dlcheck.checks.grid.rules import RULES, Measured, _epochs, metrics, row, summary
from dlcheck.checks.grid.study import search
from dlcheck.checks.grid.trials import Cell, Outcome, Plan, TrialRunner
from dlcheck.context import Context
from dlcheck.device import seed_everything
from dlcheck.errors import UserError
from dlcheck.results import CheckResult, rounded
from dlcheck.rules import judge
from dlcheck.training import (Rewind, configured_weight_decay, eval_points, number_list, require_val,
                              steps_per_epoch)

__all__ = ["NAME", "SETTINGS", "run", "Cell", "Outcome", "Plan", "TrialRunner", "Measured", "RULES"]

NAME = "grid"
SETTINGS = {
    "epochs": 1,  # epochs per trial (the recipe: 1-5)
    "steps": None,  # optimizer steps per trial instead of epochs (large datasets)
    "lrs": None,  # the LR axis ("1e-3,3e-3" or a list); default: the centre LR x lr_factors
    "weight_decays": None,  # the WD axis; default: default_weight_decays
    "lr_factors": [1 / 3, 1.0, 3.0],  # the default LR axis around the centre
    "default_weight_decays": [1e-4, 1e-5, 0.0],  # the recipe's weight decays
    "prune": True,  # stop hopeless trials early (Optuna pruner)
    "pruner": "median",  # median | halving
    "startup_trials": 3,  # trials that finish before the median pruner prunes
    "min_evals": 3,  # validation evaluations per trial at least (within the epoch when epochs < this)
    "val_batches": None,  # cap on the validation batches per evaluation (default: the whole val_loader)
    "storage": None,  # Optuna storage URL (sqlite:///grid.db); default: in memory
    "study": None,  # study name in the storage (default: derived from the target and the grid)
    "diverge_factor": 3.0,  # diverged: non-finite, or val loss - floor above this x (initial - floor)
    "min_fall": 0.05,  # learned: the val loss fell at least this share of the way from init to the floor
    "edge_margin": 0.01,  # an edge cell counts as the best when it beats its neighbour by this share
    "wd_tolerance": 0.02,  # WD makes no difference: its spread at the best LR under this share of the loss
    "far_factor": 3.0,  # the best LR/WD more than this factor from the configured one: DLC905 ...
    "far_margin": 0.05,  # ... unless the configured value's own cells come within this share of the best
    "heartbeat": 10,  # seconds between a running trial's heartbeats (storage only)
    "grace": 60,  # a trial without heartbeat for this long belongs to a dead worker: failed, run again
    "wait": 3600.0,  # seconds to wait for other workers' trials before reporting the grid incomplete
    "poll": 1.0,  # seconds between looks at the storage while waiting
    "chunk": 20,  # steps between host synchronisations
}


def run(ctx: Context) -> CheckResult:
    s = ctx.settings
    require_val(ctx, "grid")
    epochs, steps = int(s["epochs"]), s["steps"]
    if epochs < 1 or int(s["min_evals"]) < 1 or s["pruner"] not in ("median", "halving"):
        raise UserError(f"grid needs epochs >= 1, min_evals >= 1 and pruner median|halving, got epochs={epochs}, "
                        f"min_evals={s['min_evals']}, pruner={s['pruner']!r}")
    rewind = Rewind(ctx.loader("train"))  # before anything reads the loader: handed back as found
    given = number_list(s["lrs"], "--lrs", positive=True)
    wds = number_list(s["weight_decays"], "--weight-decays", positive=False) or list(s["default_weight_decays"])
    if given and ctx.lr_override is None and ctx.target.lr is None:  # no lr-find run for a grid given in full
        centre, source = math.exp(sum(map(math.log, given)) / len(given)), "--lrs"
    else:
        centre, source = _centre(ctx)
    lrs = sorted({float(f"{v:.4g}") for v in (given or [centre * f for f in s["lr_factors"]])})
    wds = sorted(set(wds), reverse=True)
    per_epoch = steps_per_epoch(ctx)
    rewind()
    total = int(steps) if steps else epochs * per_epoch
    plan = Plan(per_epoch, total, eval_points(total, per_epoch, int(s["min_evals"]), bool(steps)))
    cells = _order([Cell(lr, wd) for lr in lrs for wd in wds], centre)
    ctx.result.metrics.update({"centre_lr": rounded(centre), "centre_from": source, "lrs": [rounded(v) for v in lrs],
                               "weight_decays": wds, "steps_per_trial": total,
                               "epochs_per_trial": rounded(plan.epochs(total), 4), "prune": bool(s["prune"])})
    try:
        outcomes, initial, refs, run_here = search(ctx, cells, plan, {"lrs": lrs, "wds": wds}, rewind)
    finally:
        rewind()  # the user's loader gives the order it would have given
    m = Measured(cells=cells, outcomes=outcomes, initial_loss=initial.loss, plan=plan, refs=refs,
                 initial_accuracy=initial.accuracy, source=source, run_here=run_here,
                 lr=ctx.effective_lr if source in ("--lr", "the target's lr") else ctx.lr,
                 wd=configured_weight_decay(ctx), storage=bool(s["storage"]))
    _report(ctx, m)
    return ctx.result


def _report(ctx: Context, m: Measured) -> None:
    """The trials and their curves (JSON), the metrics, the table and heatmap, the summary, the findings."""
    result = ctx.result
    rows = [row(o, m.plan) for o in m.rows]
    result.details["trials"] = [row(o, m.plan) for o in m.rows]
    result.details["evaluations"] = {o.cell.key: o.points for o in m.rows}  # JSON only: every trial's curve
    result.metrics.update(metrics(m, ctx.settings))
    result.table("trials.csv", rows)
    title = f"grid: val loss after {_epochs(m.plan.epochs(m.plan.total))} (best framed)"
    result.figure("heatmap", title, file="heatmap.png", rows=rows, title=title)
    result.summary = summary(m)
    result.findings += judge(RULES, m, ctx.task, ctx.settings)


def _centre(ctx: Context) -> tuple[float, str]:
    """The LR the grid is centred on, and where it comes from."""
    if ctx.lr_override is not None:
        return ctx.lr, "--lr"
    if ctx.target.lr is not None:
        return ctx.lr, "the target's lr"
    from dlcheck.checks import lr_find

    sub = Context("lr-find", ctx.target, ctx.device, ctx.seed, dict(lr_find.SETTINGS), amp=ctx.amp,
                  quiet=ctx.quiet, input_key=ctx.input_key, target_key=ctx.target_key, state=ctx.state)
    sub.deadline = ctx.deadline
    seed_everything(ctx.seed)
    lr_find.run(sub)
    suggested = sub.result.metrics.get("suggested_lr")
    if isinstance(suggested, float) and math.isfinite(suggested) and suggested > 0:
        return suggested, "lr-find's suggestion"
    return ctx.lr, f"the default lr (lr-find found no suggestion: {sub.result.summary})"


def _order(cells: list[Cell], centre: float) -> list[Cell]:
    """Cells nearest the centre LR first (the likely best, which the pruner then measures others
    against), higher LRs before lower at the same distance, weight decays in the order given."""
    return sorted(cells, key=lambda c: (round(abs(math.log(c.lr / centre)), 6), -c.lr))
