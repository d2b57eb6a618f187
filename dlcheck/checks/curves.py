"""Tuning steps 5-6: train one configuration longer (10 epochs by default, or until --budget), at a
constant learning rate, recording the train and validation loss (and accuracy where it applies)
after every epoch (or every K steps), and read the curves as the recipe does:

* both still improving at the end: train longer (DLC951, a note);
* a generalisation gap that is large and growing, or a val loss that turned up while the train
  loss falls: overfitting, from the epoch where val was lowest (DLC952);
* train and val close together but high against the task's floor, and no longer falling:
  underfitting (DLC953);
* the train loss falls while the val loss stays at chance, or a val curve that jumps about more
  than it moves: pairing or a leak between the splits; run data-check (DLC954 / DLC955).

The train side of the gap is measured like the val side: in eval mode on a fixed sample of
training batches (``train_batches``), so dropout and the weights moving within an epoch do not
hide a gap; the running mean of the training losses is recorded too. Ctrl-C stops the training and
the curves are read up to there (DLC957). The model is handed back as found.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

import torch

from dlcheck.checks.grid import (Rewind, configured_weight_decay, evaluate, fall, progress, require_val,
                                 set_weight_decay, steps_per_epoch)
from dlcheck.context import Context
from dlcheck.errors import UserError
from dlcheck.results import CheckResult, rounded
from dlcheck.task import References
from dlcheck.training import Trainer, all_finite

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
    "chunk": 20,  # steps between host synchronisations
}


@dataclass
class Curves:
    """What curves measured: one point per measurement, the first at initialisation."""

    points: list[dict] = field(default_factory=list)
    refs: References = field(default_factory=References)
    per_epoch: int = 1
    planned: int = 0  # steps planned
    steps: int = 0  # steps trained
    diverged_at: int | None = None
    interrupted: bool = False
    out_of_time: bool = False

    def series(self, key: str) -> list[float]:
        return [p[key] for p in self.points]

    @property
    def floor(self) -> float:
        return self.refs.floor if self.refs.floor is not None else 0.0


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
    _judge(ctx, c)
    return ctx.result


# -- measuring --------------------------------------------------------------------------------
def _train(ctx: Context, rewind: Rewind) -> Curves:
    s = ctx.settings
    per_epoch = steps_per_epoch(ctx)
    rewind()
    total = int(s["epochs"]) * per_epoch
    every = int(s["every"]) if s["every"] else per_epoch
    wd = s["weight_decay"]
    c = Curves(per_epoch=per_epoch, planned=total)
    with ctx.model() as model:
        model.train()
        train_sample = ctx.batches(int(s["train_batches"])) if int(s["train_batches"]) > 0 else None
        rewind()  # the sample read the loader: training starts from the order a fresh loader gives
        optimizer = ctx.optimizer(model.parameters())
        if wd is not None:
            set_weight_decay(optimizer, float(wd))
        ctx.result.metrics.update({"lr": ctx.lr, "weight_decay": float(wd) if wd is not None
                                   else configured_weight_decay(ctx), "planned_epochs": int(s["epochs"]),
                                   "steps_per_epoch": per_epoch})
        trainer = Trainer(ctx, model, optimizer)
        first = _point(ctx, model, c, 0, train_sample, None, refs=True)
        c.points.append(first)
        chunk = max(1, int(s["chunk"]))
        pending, since, done = [], [], 0
        try:
            with progress(ctx, total, "curves: epoch 1") as update:
                for index, batch in ctx.stream(total):
                    pending.append(trainer.step(batch, index).loss.float())
                    done += 1
                    update(1, f"curves: epoch {min(done // per_epoch + 1, int(s['epochs']))} of {s['epochs']}")
                    at_point = done % every == 0 or done == total
                    if done % chunk and not at_point:
                        continue
                    ok, bad = all_finite(pending)
                    if not ok:
                        c.diverged_at = done - len(pending) + bad + 1
                        break
                    since += pending
                    pending = []
                    if at_point:
                        c.points.append(_point(ctx, model, c, done, train_sample, since))
                        since = []
                        if not math.isfinite(c.points[-1]["val_loss"]):
                            c.diverged_at = done
                            break
                    if ctx.out_of_time() and done < total:
                        c.out_of_time = True
                        break
        except KeyboardInterrupt:  # Ctrl-C: read the curves trained so far
            c.interrupted = True
        c.steps = done
        if not c.interrupted and c.diverged_at is None and since and c.points[-1]["step"] != done:
            c.points.append(_point(ctx, model, c, done, train_sample, since))  # the budget's last stretch
    return c


def _point(ctx: Context, model, c: Curves, step: int, train_sample, since, refs: bool = False) -> dict:
    s = ctx.settings
    val = evaluate(ctx, model, batches=s["val_batches"], refs=refs)
    if refs:
        c.refs = val.refs
    train = evaluate(ctx, model, fixed=train_sample) if train_sample else None
    running = float(torch.stack(since).mean()) if since else None
    return {"step": step, "epoch": round(step / c.per_epoch, 4),
            "train_loss": running if running is not None else (train.loss if train else None),
            "train_eval_loss": train.loss if train else running,
            "train_accuracy": train.accuracy if train else None,
            "val_loss": val.loss, "val_accuracy": val.accuracy}


# -- reading the curves -----------------------------------------------------------------------
@dataclass
class Reading:
    """The numbers the rules judge, from the curves."""

    v: list[float]  # val loss per point (the first at init)
    t: list[float]  # train loss per point, eval mode (the first at init)
    epochs: list[float]
    floor: float
    scale: float  # expected - floor (or the initial val loss - floor)
    noise: float  # the val curve's point-to-point noise (robust), 0 with too few points
    best: int  # index of the lowest val loss
    improving_by: float = 0.0  # share of its excess the val loss fell over the end window (when still improving)

    @property
    def gap(self) -> float:
        return self.v[-1] - self.t[-1]


def _read(c: Curves) -> Reading:
    v, t = c.series("val_loss"), c.series("train_eval_loss")
    t = [x if x is not None else y for x, y in zip(t, v)]
    floor = c.floor
    expected = c.refs.expected
    scale = (expected - floor) if expected is not None and expected > floor else max(v[0] - floor, 1e-12)
    best = min(range(len(v)), key=lambda i: (v[i], i))
    return Reading(v=v, t=t, epochs=c.series("epoch"), floor=floor, scale=scale, noise=_noise(v[1:]), best=best)


def _noise(values: list[float]) -> float:
    """The scatter of a curve around its running 3-point median (robust: 1.4826 x the median
    absolute residual); 0 for fewer than 4 points."""
    if len(values) < 4:
        return 0.0
    residual = [values[i] - statistics.median(values[i - 1:i + 2]) for i in range(1, len(values) - 1)]
    return 1.4826 * statistics.median(abs(r) for r in residual)


def _judge(ctx: Context, c: Curves) -> None:
    s, result = ctx.settings, ctx.result
    m = result.metrics
    m.update({"epochs": rounded(c.steps / c.per_epoch, 4), "steps": c.steps, "floor": rounded(c.refs.floor),
              "expected": rounded(c.refs.expected)})
    result.details["curves"] = [{k: rounded(v, 5) if isinstance(v, float) else v for k, v in p.items()}
                                for p in c.points]
    if c.interrupted:
        result.add("DLC957", f"interrupted after {c.steps / c.per_epoch:.3g} of {c.planned / c.per_epoch:g} "
                             f"epochs: the curves are read up to there")
    if c.diverged_at is not None:
        result.summary = f"the loss became non-finite at step {c.diverged_at}"
        result.add("DLC956", f"the training loss became NaN/Inf at step {c.diverged_at} (epoch "
                             f"{c.diverged_at / c.per_epoch:.2g}) at lr {ctx.lr:g}")
        return
    if len(c.points) < 3:
        result.summary = f"{len(c.points) - 1} measurement(s) after init: too few to read the curves"
        return
    r = _read(c)
    m.update({"final_val_loss": rounded(r.v[-1]), "final_train_loss": rounded(r.t[-1]),
              "best_val_loss": rounded(r.v[r.best]),
              "best_epoch": rounded(r.epochs[r.best], 4), "gap": rounded(r.gap), "val_noise": rounded(r.noise)})
    acc = c.series("val_accuracy")
    if acc[-1] is not None:
        m.update({"final_val_accuracy": rounded(acc[-1]), "best_val_accuracy": rounded(max(acc))})
    result.summary = (f"after {r.epochs[-1]:.3g} epochs: train {r.t[-1]:.3g}, val {r.v[-1]:.3g} "
                      f"(lowest {r.v[r.best]:.3g} at epoch {r.epochs[r.best]:.3g})"
                      + (f", val accuracy {acc[-1]:.1%}" if acc[-1] is not None else ""))
    for rule in RULES:
        if rule(ctx, r):
            break


def at_chance(ctx: Context, r: Reading) -> bool:
    """DLC954 (fail): the train loss falls, the val loss stays where it started."""
    s = ctx.settings
    train_fall = fall(r.t[0], min(r.t), r.floor)
    val_fall = fall(r.v[0], min(r.v), r.floor)
    ctx.result.metrics.update({"train_fall": rounded(train_fall, 4), "val_fall": rounded(val_fall, 4)})
    if not (val_fall < float(s["chance_fall"]) and train_fall >= float(s["learn_fall"])):
        return False
    ctx.result.add("DLC954", f"the train loss fell {train_fall:.0%} of the way to the floor ({r.t[0]:.3g} -> "
                             f"{min(r.t):.3g}) while the val loss stayed at {r.v[0]:.3g} (at best {min(r.v):.3g}): "
                             f"nothing learned carries over to the validation data")
    return True


def noisy(ctx: Context, r: Reading) -> bool:
    """DLC955 (warn): the val curve scatters more than it moves."""
    level = statistics.median(r.v[1:]) - r.floor
    share = r.noise / max(level, 1e-12)
    ctx.result.metrics["val_noise_share"] = rounded(share, 4)
    if share <= float(ctx.settings["noisy_share"]):
        return False
    ctx.result.add("DLC955", f"the val loss jumps about by {r.noise:.3g} from one measurement to the next, "
                             f"{share:.0%} of its level above the floor ({level:.3g})")
    return True


def overfitting(ctx: Context, r: Reading) -> bool:
    """DLC952 (warn): val turned up while train falls, or a large gap that keeps growing."""
    s = ctx.settings
    z = float(s["noise_z"])
    rise = r.v[-1] - r.v[r.best]
    turned = (r.best < len(r.v) - 1 and rise > float(s["turn_up"]) * max(r.v[r.best] - r.floor, 1e-12)
              and rise > z * r.noise and r.t[-1] <= r.t[r.best] + z * r.noise)
    k = _window(ctx, r)
    gap_then = r.v[-1 - k] - r.t[-1 - k]
    growing = r.gap > float(s["gap_share"]) * r.scale and r.gap > gap_then * (1 + float(s["gap_growth"])) \
        and r.gap - gap_then > z * r.noise
    if not (turned or growing):
        return False
    at = r.epochs[r.best]
    if turned:
        what = (f"the val loss was lowest at epoch {at:.3g} ({r.v[r.best]:.3g}) and rose to {r.v[-1]:.3g} by epoch "
                f"{r.epochs[-1]:.3g} while the train loss went {r.t[r.best]:.3g} -> {r.t[-1]:.3g}")
    else:
        what = (f"the gap between val and train loss is {r.gap:.3g} ({r.gap / r.scale:.0%} of the loss at init "
                f"above the floor) and grew from {gap_then:.3g} at epoch {r.epochs[-1 - k]:.3g}")
    ctx.result.metrics["overfit_epoch"] = rounded(at, 4)
    ctx.result.add("DLC952", f"overfitting: {what}",
                   advice=f"Regularise (weight decay, dropout), add data or augmentation, or stop early at about "
                          f"epoch {at:.3g}.")
    return True


def still_improving(ctx: Context, r: Reading) -> bool:
    """DLC951 (info): the val loss is still falling at the end: train longer."""
    s = ctx.settings
    k = _window(ctx, r)
    then = r.v[-1 - k]
    drop = then - r.v[-1]
    improving = (drop > float(s["min_progress"]) * max(then - r.floor, 1e-12)
                 and drop > float(s["noise_z"]) * r.noise and r.v[-1] <= r.v[r.best] + r.noise)
    if not improving:
        return False
    ctx.result.metrics["improving_by"] = rounded(drop / max(then - r.floor, 1e-12), 4)
    r.improving_by = drop / max(then - r.floor, 1e-12)
    ctx.result.add("DLC951", f"still improving: the val loss fell {then:.3g} -> {r.v[-1]:.3g} over the last "
                             f"{r.epochs[-1] - r.epochs[-1 - k]:.3g} epochs (train {r.t[-1 - k]:.3g} -> {r.t[-1]:.3g})",
                   advice=f"Train longer (--epochs {_more(ctx, r)}) before reading the curves; nothing to fix.")
    return False  # a slow improvement can still be underfitting


def underfitting(ctx: Context, r: Reading) -> bool:
    """DLC953 (warn): train and val close together, high against the floor, no longer falling fast."""
    s = ctx.settings
    high = (r.t[-1] - r.floor) / r.scale
    close = abs(r.gap) <= float(s["close_share"]) * max(r.v[-1] - r.floor, 1e-12)
    ctx.result.metrics["train_excess_share"] = rounded(high, 4)
    if not (close and high > float(s["high_share"])) or r.improving_by >= float(s["fast_progress"]):
        return False
    ctx.result.add("DLC953", f"underfitting: train {r.t[-1]:.3g} and val {r.v[-1]:.3g} are close, and both high: "
                             f"{high:.0%} of the way from the floor ({r.floor:.3g}) to the loss at init"
                             + (f", and falling only {r.improving_by:.0%} over the last epochs" if r.improving_by
                                else ", and no longer falling"))
    return True


#: The rules, in order; the first that explains the curves ends the reading.
RULES = (at_chance, noisy, overfitting, still_improving, underfitting)


def _window(ctx: Context, r: Reading) -> int:
    """Points in the end-of-run window (at least 2, never past the initial point)."""
    n = len(r.v) - 1
    return max(1, min(n, max(2, math.ceil(float(ctx.settings["trend_window"]) * n))))


def _more(ctx: Context, r: Reading) -> int:
    return max(2 * round(r.epochs[-1]), 2)


def _write(ctx: Context, c: Curves) -> None:
    rows = [{k: rounded(v, 6) if isinstance(v, float) else v for k, v in p.items()} for p in c.points]
    ctx.result.table("curves.csv", rows)
    title = f"curves: lr {ctx.lr:g}"
    ctx.result.figure("curves", title, file="curves.png", points=rows, title=title)
