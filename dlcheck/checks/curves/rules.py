"""curves' rules: pure functions of the measured curves (dlcheck/rules.py), one per finding code,
in report order, with the summary and the metrics. The reading ends at the first of val at chance,
noisy, overfitting or underfitting that explains the curves: a later rule reads the numbers the
earlier verdicts rest on (``_chance``, ``_noisy``, ``_overfit``)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dlcheck.checks.curves.measure import Curves
from dlcheck.checks.curves.spikes import loss_spike, spikes
from dlcheck.results import Finding, rounded
from dlcheck.rules import finding
from dlcheck.training import fall

Settings = Mapping[str, Any]


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


def _readable(c: Curves) -> bool:
    """Curves to read: training did not blow up, and at least two measurements after init."""
    return c.diverged_at is None and len(c.points) >= 3


def _window(r: Reading, s: Settings) -> int:
    """Points in the end-of-run window (at least 2, never past the initial point)."""
    n = len(r.v) - 1
    return max(1, min(n, max(2, math.ceil(float(s["trend_window"]) * n))))


def _more(r: Reading) -> int:
    return max(2 * round(r.epochs[-1]), 2)


def _falls(r: Reading) -> tuple[float, float]:
    """How far the train and the val loss fell toward the floor (at their lowest)."""
    return fall(r.t[0], min(r.t), r.floor), fall(r.v[0], min(r.v), r.floor)


def _chance(r: Reading, s: Settings) -> bool:
    train_fall, val_fall = _falls(r)
    return val_fall < float(s["chance_fall"]) and train_fall >= float(s["learn_fall"])


def _noise_share(r: Reading) -> tuple[float, float]:
    """The val curve's level above the floor, and its noise's share of that level."""
    level = statistics.median(r.v[1:]) - r.floor
    return level, r.noise / max(level, 1e-12)


def _noisy(r: Reading, s: Settings) -> bool:
    return _noise_share(r)[1] > float(s["noisy_share"])


def _overfit(r: Reading, s: Settings) -> tuple[bool, bool, float, int]:
    """(turned up, gap large and growing, the gap k points before the end, k)."""
    z = float(s["noise_z"])
    rise = r.v[-1] - r.v[r.best]
    turned = (r.best < len(r.v) - 1 and rise > float(s["turn_up"]) * max(r.v[r.best] - r.floor, 1e-12)
              and rise > z * r.noise and r.t[-1] <= r.t[r.best] + z * r.noise)
    k = _window(r, s)
    gap_then = r.v[-1 - k] - r.t[-1 - k]
    growing = r.gap > float(s["gap_share"]) * r.scale and r.gap > gap_then * (1 + float(s["gap_growth"])) \
        and r.gap - gap_then > z * r.noise
    return turned, growing, gap_then, k


def _explained(r: Reading, s: Settings) -> bool:
    """An earlier rule explained the curves (val at chance, noisy, or overfitting): the reading ends."""
    return _chance(r, s) or _noisy(r, s) or any(_overfit(r, s)[:2])


def _improving(r: Reading, s: Settings) -> tuple[float, float, int] | None:
    """The val loss still falling at the end: (where the window starts, the share it fell, k)."""
    k = _window(r, s)
    then = r.v[-1 - k]
    drop = then - r.v[-1]
    if not (drop > float(s["min_progress"]) * max(then - r.floor, 1e-12)
            and drop > float(s["noise_z"]) * r.noise and r.v[-1] <= r.v[r.best] + r.noise):
        return None
    return then, drop / max(then - r.floor, 1e-12), k


def _high(r: Reading) -> float:
    return (r.t[-1] - r.floor) / r.scale


# -- the rules, in report order ---------------------------------------------------------------
def interrupted(c: Curves, task, s: Settings) -> Finding | None:
    """DLC957 (warn): Ctrl-C stopped the training; the curves are read up to there."""
    if not c.interrupted:
        return None
    return finding("DLC957", f"interrupted after {c.steps / c.per_epoch:.3g} of {c.planned / c.per_epoch:g} "
                             f"epochs: the curves are read up to there")


def diverged(c: Curves, task, s: Settings) -> Finding | None:
    """DLC956 (fail): the loss became NaN/Inf."""
    if c.diverged_at is None:
        return None
    return finding("DLC956", f"the training loss became NaN/Inf at step {c.diverged_at} (epoch "
                             f"{c.diverged_at / c.per_epoch:.2g}) at lr {c.lr:g}")


def at_chance(c: Curves, task, s: Settings) -> Finding | None:
    """DLC954 (fail): the train loss falls, the val loss stays where it started."""
    if not _readable(c) or not _chance(r := _read(c), s):
        return None
    train_fall, _ = _falls(r)
    return finding("DLC954", f"the train loss fell {train_fall:.0%} of the way to the floor ({r.t[0]:.3g} -> "
                             f"{min(r.t):.3g}) while the val loss stayed at {r.v[0]:.3g} (at best {min(r.v):.3g}): "
                             f"nothing learned carries over to the validation data")


def noisy(c: Curves, task, s: Settings) -> Finding | None:
    """DLC955 (warn): the val curve scatters more than it moves."""
    if not _readable(c) or _chance(r := _read(c), s) or not _noisy(r, s):
        return None
    level, share = _noise_share(r)
    return finding("DLC955", f"the val loss jumps about by {r.noise:.3g} from one measurement to the next, "
                             f"{share:.0%} of its level above the floor ({level:.3g})")


def overfitting(c: Curves, task, s: Settings) -> Finding | None:
    """DLC952 (warn): val turned up while train falls, or a large gap that keeps growing."""
    if not _readable(c) or _chance(r := _read(c), s) or _noisy(r, s):
        return None
    turned, growing, gap_then, k = _overfit(r, s)
    if not (turned or growing):
        return None
    at = r.epochs[r.best]
    if turned:
        what = (f"the val loss was lowest at epoch {at:.3g} ({r.v[r.best]:.3g}) and rose to {r.v[-1]:.3g} by epoch "
                f"{r.epochs[-1]:.3g} while the train loss went {r.t[r.best]:.3g} -> {r.t[-1]:.3g}")
    else:
        what = (f"the gap between val and train loss is {r.gap:.3g} ({r.gap / r.scale:.0%} of the loss at init "
                f"above the floor) and grew from {gap_then:.3g} at epoch {r.epochs[-1 - k]:.3g}")
    return finding("DLC952", f"overfitting: {what}",
                   advice=f"Regularise (weight decay, dropout), add data or augmentation, or stop early at about "
                          f"epoch {at:.3g}.")


def _gap(c: Curves, r: Reading, s: Settings) -> tuple[float, float, float] | None:
    """A large generalisation gap at the end: (val excess / train excess, gap / scale, the train -
    val accuracy gap or nan where accuracy is not measured), or None. The loss: val's excess over
    the floor ``gap_times`` times train's, and the gap ``gap_min_share`` of the loss at init above
    the floor; where accuracy is measured, train's at least ``fit_accuracy`` and val's
    ``accuracy_gap`` or more below it too."""
    times = (r.v[-1] - r.floor) / max(r.t[-1] - r.floor, 1e-12)
    share = r.gap / r.scale
    if times < float(s["gap_times"]) or share < float(s["gap_min_share"]):
        return None
    train_acc, val_acc = c.points[-1].get("train_accuracy"), c.points[-1].get("val_accuracy")
    if train_acc is None or val_acc is None:
        return times, share, math.nan
    if train_acc < float(s["fit_accuracy"]) or train_acc - val_acc < float(s["accuracy_gap"]):
        return None
    return times, share, train_acc - val_acc


def generalisation_gap(c: Curves, task, s: Settings) -> Finding | None:
    """DLC958 (warn): train near its floor, val many times higher (and, where measured, train
    accuracy near 100 % with val far below); DLC952 speaks instead when val turned up or the gap grows."""
    if not _readable(c) or _chance(r := _read(c), s) or _noisy(r, s) or any(_overfit(r, s)[:2]):
        return None
    if (gap := _gap(c, r, s)) is None:
        return None
    times, share, acc_gap = gap
    p = c.points[-1]
    what = (f"a large generalisation gap: train loss {r.t[-1]:.3g} against val {r.v[-1]:.3g} ({times:.3g}x its "
            f"excess over the floor; the gap is {share:.0%} of the loss at init above the floor)"
            + (f", train accuracy {p['train_accuracy']:.1%} against val {p['val_accuracy']:.1%}"
               if not math.isnan(acc_gap) else ""))
    at = r.epochs[r.best]
    if _improving(r, s) is not None or r.best == len(r.v) - 1:
        return finding("DLC958", f"{what}; the val loss is still falling, so not overfitting yet, but the model "
                                 f"fits its training data far better than new data",
                       advice="Regularise (weight decay, dropout) or add data or augmentation: the training "
                              "data has little left to teach.")
    early = f", or stop early at about epoch {at:.3g}" if r.best <= len(r.v) - 1 - _window(r, s) else ""
    return finding("DLC958", f"{what}; the val loss no longer improves (lowest {r.v[r.best]:.3g} at epoch {at:.3g}): "
                             f"overfitting, the model memorises its training data",
                   advice=f"Regularise (weight decay, dropout), add data or augmentation{early}.")


def still_improving(c: Curves, task, s: Settings) -> Finding | None:
    """DLC951 (info): the val loss is still falling at the end: train longer (the reading goes on:
    a slow improvement can still be underfitting)."""
    if not _readable(c) or _explained(r := _read(c), s) or (up := _improving(r, s)) is None:
        return None
    then, _, k = up
    return finding("DLC951", f"still improving: the val loss fell {then:.3g} -> {r.v[-1]:.3g} over the last "
                             f"{r.epochs[-1] - r.epochs[-1 - k]:.3g} epochs (train {r.t[-1 - k]:.3g} -> {r.t[-1]:.3g})",
                   advice=f"Train longer (--epochs {_more(r)}) before reading the curves; nothing to fix.")


def underfitting(c: Curves, task, s: Settings) -> Finding | None:
    """DLC953 (warn): train and val close together, high against the floor, no longer falling fast."""
    if not _readable(c) or _explained(r := _read(c), s):
        return None
    up = _improving(r, s)
    improving_by = up[1] if up else 0.0
    high = _high(r)
    close = abs(r.gap) <= float(s["close_share"]) * max(r.v[-1] - r.floor, 1e-12)
    if not (close and high > float(s["high_share"])) or improving_by >= float(s["fast_progress"]):
        return None
    return finding("DLC953", f"underfitting: train {r.t[-1]:.3g} and val {r.v[-1]:.3g} are close, and both high: "
                             f"{high:.0%} of the way from the floor ({r.floor:.3g}) to the loss at init"
                             + (f", and falling only {improving_by:.0%} over the last epochs" if improving_by
                                else ", and no longer falling"))


#: The rules, in report order; at most one of at_chance, noisy, overfitting (or the gap) and
#: underfitting speaks (the first that explains the curves ends the reading); a spike is read apart.
RULES = (interrupted, diverged, loss_spike, at_chance, noisy, overfitting, generalisation_gap, still_improving,
         underfitting)


# -- summary and metrics ----------------------------------------------------------------------
def summary(c: Curves) -> str:
    if c.diverged_at is not None:
        return f"the loss became non-finite at step {c.diverged_at}"
    if len(c.points) < 3:
        return f"{len(c.points) - 1} measurement(s) after init: too few to read the curves"
    r, acc = _read(c), c.series("val_accuracy")
    return (f"after {r.epochs[-1]:.3g} epochs: train {r.t[-1]:.3g}, val {r.v[-1]:.3g} "
            f"(lowest {r.v[r.best]:.3g} at epoch {r.epochs[r.best]:.3g})"
            + (f", val accuracy {acc[-1]:.1%}" if acc[-1] is not None else ""))


def metrics(c: Curves, s: Settings) -> dict:
    m = {"epochs": rounded(c.steps / c.per_epoch, 4), "steps": c.steps, "floor": rounded(c.refs.floor),
         "expected": rounded(c.refs.expected)}
    if c.losses:
        m["loss_spikes"] = [x.start for x in spikes(c, s)]
    if not _readable(c):
        return m
    r = _read(c)
    m.update({"final_val_loss": rounded(r.v[-1]), "final_train_loss": rounded(r.t[-1]),
              "best_val_loss": rounded(r.v[r.best]),
              "best_epoch": rounded(r.epochs[r.best], 4), "gap": rounded(r.gap), "val_noise": rounded(r.noise)})
    acc = c.series("val_accuracy")
    if acc[-1] is not None:
        m.update({"final_val_accuracy": rounded(acc[-1]), "best_val_accuracy": rounded(max(acc))})
    train_fall, val_fall = _falls(r)
    m.update({"train_fall": rounded(train_fall, 4), "val_fall": rounded(val_fall, 4)})
    if _chance(r, s):
        return m
    m["val_noise_share"] = rounded(_noise_share(r)[1], 4)
    if _noisy(r, s):
        return m
    if any(_overfit(r, s)[:2]):
        m["overfit_epoch"] = rounded(r.epochs[r.best], 4)
        return m
    up = _improving(r, s)
    if up is not None:
        m["improving_by"] = rounded(up[1], 4)
    m["train_excess_share"] = rounded(_high(r), 4)
    m["gap_share"] = rounded(r.gap / r.scale, 4)
    return m
