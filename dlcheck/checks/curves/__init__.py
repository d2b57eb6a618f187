"""Tuning steps 5-6: train one configuration longer (10 epochs by default, or until --budget), at a
constant learning rate, recording the train and validation loss (and accuracy where it applies)
after every epoch (or every K steps), and read the curves as the recipe does:

* both still improving at the end: train longer (DLC951, a note);
* a generalisation gap that is large and growing, or a val loss that turned up while the train
  loss falls: overfitting, from the epoch where val was lowest (DLC952);
* train and val close together but high against the task's floor, and no longer falling:
  underfitting (DLC953);
* the train loss near its floor (train accuracy near 100 %) while val stays many times higher: a
  large generalisation gap (DLC958; worded "not overfitting yet" while val
  still improves);
* the training loss of a few steps in a row several times the median of the steps before: a loss
  spike, with its step (DLC959);
* the train loss falls while the val loss stays at chance, or a val curve that jumps about more
  than it moves: pairing or a leak between the splits; run data-check (DLC954 / DLC955).

The train side of the gap is measured like the val side: in eval mode on a fixed sample of
training batches (``train_batches``), so dropout and the weights moving within an epoch do not
hide a gap; the running mean of the training losses is recorded too. Ctrl-C stops the training and
the curves are read up to there (DLC957). The model is handed back as found.

The package: ``measure`` (training and the points measured), ``rules`` (one pure rule per
finding code, the summary and metrics).
"""

from __future__ import annotations

from dlcheck.checks.curves.measure import Curves, _train
from dlcheck.checks.curves.rules import RULES, Reading, metrics, summary
from dlcheck.context import Context
from dlcheck.errors import UserError
from dlcheck.results import CheckResult, rounded
from dlcheck.rules import judge
from dlcheck.training import Rewind, require_val

__all__ = ["NAME", "SETTINGS", "run", "Curves", "Reading", "RULES"]

NAME = "curves"
SETTINGS = {
    "epochs": 10,  # epochs to train (or until --budget runs out)
    "every": None,  # measure every this many steps instead of every epoch (long epochs)
    "weight_decay": None,  # set on the optimizer's param groups (default: the factory's own)
    "val_batches": None,  # cap on the val batches per measurement (default: the whole val_loader)
    "train_batches": 10,  # training batches measured in eval mode for the gap (0: the running train loss)
    "trend_window": 0.3,  # share of the points (at least 2) the end-of-run trend is read on
    "min_progress": 0.02,  # still improving: val fell by this share of its excess over the window
    "fast_progress": 0.1,  # ... by this share or more: too early to call it underfitting
    "noise_z": 2.0,  # a rise or fall counts when it exceeds this many times the val curve's noise
    "turn_up": 0.1,  # overfitting: val rose from its lowest by this share of its excess over the floor
    "gap_share": 0.25,  # a large gap: val - train above this share of (expected - floor)
    "gap_growth": 0.1,  # ... and growing: by this share over the last part of the run
    "close_share": 0.25,  # train and val close: the gap under this share of the val loss's excess
    "high_share": 0.3,  # high: (train - floor) above this share of (expected - floor)
    "chance_fall": 0.05,  # val at chance: it fell less than this share of the way to the floor ...
    "learn_fall": 0.3,  # ... while the train loss fell at least this share
    "noisy_share": 0.25,  # val noisy: its noise above this share of its excess over the floor
    "gap_times": 5.0,  # a large generalisation gap: val's excess over the floor this many times train's ...
    "gap_min_share": 0.1,  # ... and val - train above this share of (expected - floor)
    "fit_accuracy": 0.99,  # ... and where accuracy is measured: train accuracy at least this ...
    "accuracy_gap": 0.05,  # ... and val accuracy this much or more below it
    "spike_window": 20,  # a loss spike: a step's loss against the median of this many steps before ...
    "spike_ratio": 3.0,  # ... this many times that median (both above the floor) ...
    "spike_share": 0.2,  # ... and above it by this share of (expected - floor) ...
    "spike_steps": 3,  # ... for this many steps in a row
    "chunk": 20,  # steps between host synchronisations
}


def run(ctx: Context) -> CheckResult:
    s = ctx.settings
    require_val(ctx, "curves")
    epochs, every = int(s["epochs"]), s["every"]
    if epochs < 1 or (every is not None and int(every) < 1):
        raise UserError(f"curves needs epochs >= 1 and every >= 1, got epochs={epochs}, every={every}")
    rewind = Rewind(ctx.loader("train"))
    try:
        c = _train(ctx, rewind)
    finally:
        rewind()  # the user's loader gives the order it would have given
    _write(ctx, c)
    result = ctx.result
    result.metrics.update(metrics(c, ctx.settings))
    result.details["curves"] = [{k: rounded(v, 5) if isinstance(v, float) else v for k, v in p.items()}
                                for p in c.points]
    result.summary = summary(c)
    result.findings += judge(RULES, c, ctx.task, ctx.settings)
    return ctx.result


def _write(ctx: Context, c: Curves) -> None:
    rows = [{k: rounded(v, 6) if isinstance(v, float) else v for k, v in p.items()} for p in c.points]
    ctx.result.table("curves.csv", rows)
    title = f"curves: lr {c.lr:g}"
    ctx.result.figure("curves", title, file="curves.png", points=rows, title=title)
