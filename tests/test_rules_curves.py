"""curves' rules on hand-built curves: one case per code, and healthy curves near each threshold
that must stay quiet (tests/rulecase.py)."""

from __future__ import annotations

import pytest

from dlcheck.checks import curves
from dlcheck.checks.curves import rules as cr
from dlcheck.checks.curves.measure import Curves
from dlcheck.rules import judge
from dlcheck.task import References
from rulecase import Case, Quiet

S = curves.SETTINGS


def measured(v, t=None, floor=0.0, expected=2.3, acc=None, **kw) -> Curves:
    """Val losses ``v`` and train losses ``t`` (eval mode), one point per epoch, the first at init;
    ``acc``: (train, val) accuracy at the last point."""
    t = t if t is not None else [x - 0.05 if i else x for i, x in enumerate(v)]
    points = [{"step": 10 * i, "epoch": float(i), "train_loss": t[i], "train_eval_loss": t[i],
               "train_accuracy": None, "val_loss": v[i], "val_accuracy": None} for i in range(len(v))]
    if acc is not None:
        points[-1].update(train_accuracy=acc[0], val_accuracy=acc[1])
    kw.setdefault("steps", 10 * (len(v) - 1))
    return Curves(points=points, refs=References(expected, expected, floor), per_epoch=10,
                  planned=10 * (len(v) - 1), lr=0.01, **kw)


IMPROVING = measured([2.3, 1.5, 1.2, 1.0, 0.85, 0.75, 0.65])
FLAT_HIGH = measured([2.3, 1.6, 1.5, 1.48, 1.47, 1.47, 1.47])
SLOW_HIGH = measured([2.3, 1.6, 1.5, 1.48, 1.46, 1.44, 1.42])
TURNED = measured([2.3, 1.5, 1.0, 0.8, 0.9, 1.1, 1.3], [2.3, 1.4, 0.9, 0.6, 0.4, 0.3, 0.2])
GAP = measured([2.3, 1.6, 1.4, 1.3, 1.25, 1.22, 1.2], [2.3, 1.4, 0.9, 0.6, 0.4, 0.25, 0.1])
NOISY = measured([2.3, 1.0, 1.6, 0.9, 1.7, 1.0, 1.6])
CHANCE = measured([2.3, 2.3, 2.29, 2.3, 2.3], [2.3, 1.5, 1.0, 0.7, 0.5])
# the run: train ~0, val levelled off at 0.29 (+5% on its lowest: under turn_up), 8 points of accuracy apart
LEVELLED = [2.3, 0.8, 0.4, 0.3, 0.276, 0.28, 0.29]
TO_ZERO = [2.3, 0.6, 0.1, 0.01, 0.002, 0.001, 0.0004]
GAP_FLAT = measured(LEVELLED, TO_ZERO, acc=(1.0, 0.92))
GAP_FALLING = measured([2.3, 0.8, 0.5, 0.42, 0.38, 0.35, 0.32], TO_ZERO, acc=(1.0, 0.9))


def stepped(losses, v=(2.3, 1.0, 0.8, 0.7), per_epoch=50) -> Curves:
    """Curves with the training loss of every step."""
    c = measured(list(v))
    c.losses, c.per_epoch = list(losses), per_epoch
    return c


_FALL = [2.3 * 0.9 ** i + 0.3 for i in range(60)]
_NOISY_FALL = [x * (1.6 if i % 3 == 0 else 0.7) for i, x in enumerate(_FALL)]  # small batches: +-50%
SPIKED = stepped(_FALL[:40] + [1.6, 2.4, 1.9, 1.2] + _FALL[44:])

CASES = [
    Case("DLC951", cr.still_improving, IMPROVING, None, S, says=("0.85 -> 0.65 over the last 2 epochs",),
         advises=("--epochs 12",)),
    Case("DLC952", cr.overfitting, TURNED, None, S, name="turned-up",
         says=("lowest at epoch 3 (0.8) and rose to 1.3 by epoch 6",), advises=("stop early at about epoch 3",)),
    Case("DLC952", cr.overfitting, GAP, None, S, name="gap-growing",
         says=("the gap between val and train loss is 1.1", "grew from 0.85 at epoch 4")),
    Case("DLC953", cr.underfitting, FLAT_HIGH, None, S, name="flat",
         says=("train 1.42 and val 1.47", "no longer falling")),
    Case("DLC953", cr.underfitting, SLOW_HIGH, None, S, name="slow", says=("falling only 3%",)),
    Case("DLC954", cr.at_chance, CHANCE, None, S, says=("the train loss fell 78%", "stayed at 2.3")),
    Case("DLC955", cr.noisy, NOISY, None, S, says=("jumps about by 0.964", "74% of its level")),
    Case("DLC956", cr.diverged, measured([2.3, 1.5], diverged_at=37), None, S,
         says=("step 37 (epoch 3.7) at lr 0.01",)),
    Case("DLC958", cr.generalisation_gap, GAP_FLAT, None, S, name="levelled",
         says=("train loss 0.0004 against val 0.29", "train accuracy 100.0% against val 92.0%",
               "no longer improves (lowest 0.276 at epoch 4): overfitting"), advises=("stop early at about epoch 4",)),
    Case("DLC958", cr.generalisation_gap, GAP_FALLING, None, S, name="still-falling",
         says=("still falling, so not overfitting yet",), advises=("Regularise",)),
    Case("DLC958", cr.generalisation_gap, measured(LEVELLED, TO_ZERO), None, S, name="no-accuracy",
         says=("725x its excess",)),
    Case("DLC959", cr.loss_spike, SPIKED, None, S,
         says=("spiked at step 41 (epoch 0.82): 3 steps in a row", "peaking at 2.4 at step 42")),
    Case("DLC957", cr.interrupted, measured([2.3, 1.5, 1.2, 1.0], interrupted=True, steps=25), None, S,
         says=("interrupted after 2.5 of 3 epochs",)),
]

QUIET = [
    # the val loss fell 6% of the way to the floor (chance_fall: 5%)
    Quiet(cr.at_chance, measured([2.3, 2.2, 2.16, 2.162], [2.3, 1.5, 1.0, 0.7]), None, S),
    # the val curve scatters by 14% of its level (noisy_share: 25%)
    Quiet(cr.noisy, measured([2.3, 1.0, 1.1, 1.0, 1.1, 1.0, 1.1]), None, S),
    Quiet(cr.overfitting, IMPROVING, None, S, name="improving"),
    # turned up by 5% of its excess (turn_up: 10%)
    Quiet(cr.overfitting, measured([2.3, 1.5, 1.0, 0.8, 0.82, 0.83, 0.84]), None, S, name="small-turn"),
    Quiet(cr.overfitting, NOISY, None, S, name="noisy-says-955-only"),
    Quiet(cr.still_improving, FLAT_HIGH, None, S, name="flat"),
    # fell 1.4% of its excess over the window (min_progress: 2%)
    Quiet(cr.still_improving, measured([2.3, 1.6, 1.5, 1.48, 1.46, 1.45, 1.44]), None, S, name="barely"),
    Quiet(cr.still_improving, TURNED, None, S, name="overfitting-says-952-only"),
    # the train loss 26% of the way up from the floor (high_share: 30%)
    Quiet(cr.underfitting, IMPROVING, None, S, name="low"),
    Quiet(cr.underfitting, CHANCE, None, S, name="at-chance-says-954-only"),
    # the gap 9% of the loss at init (gap_min_share: 10%), train ~0
    Quiet(cr.generalisation_gap, measured([2.3, 0.8, 0.4, 0.25, 0.21, 0.21, 0.21], TO_ZERO, acc=(1.0, 0.94)), None, S,
          name="small-data-modest-gap"),
    # val 4.4x train's loss (gap_times: 5)
    Quiet(cr.generalisation_gap, measured(LEVELLED, [2.3, 0.8, 0.3, 0.15, 0.1, 0.08, 0.066]), None, S,
          name="train-not-near-0"),
    # val accuracy 4 points below train's (accuracy_gap: 5 points)
    Quiet(cr.generalisation_gap, measured(LEVELLED, TO_ZERO, acc=(1.0, 0.96)), None, S, name="accuracy-close"),
    # train accuracy 98% (fit_accuracy: 99%)
    Quiet(cr.generalisation_gap, measured(LEVELLED, TO_ZERO, acc=(0.98, 0.9)), None, S, name="train-not-fit"),
    Quiet(cr.generalisation_gap, IMPROVING, None, S, name="close"),
    Quiet(cr.generalisation_gap, TURNED, None, S, name="overfitting-says-952-only"),
    Quiet(cr.loss_spike, stepped(_FALL), None, S, name="smooth"),
    Quiet(cr.loss_spike, stepped(_NOISY_FALL), None, S, name="small-batch-noise"),
    # two steps in a row (spike_steps: 3)
    Quiet(cr.loss_spike, stepped(_FALL[:40] + [1.6, 2.4] + _FALL[42:]), None, S, name="two-steps"),
    # 1.25 above a median of 0.33 near the floor: 3.8x, but under spike_share of the loss at init (0.46)
    Quiet(cr.loss_spike, stepped([0.01] * 30 + [0.05, 0.06, 0.05] + [0.01] * 10, v=(2.3, 0.1, 0.1)), None, S,
          name="near-zero"),
    Quiet(cr.diverged, IMPROVING, None, S),
    Quiet(cr.interrupted, IMPROVING, None, S),
    Quiet(cr.at_chance, measured([2.3, 2.3], [2.3, 0.5]), None, S, name="too-few-points"),
]


def test_the_first_rule_that_explains_the_curves_ends_the_reading():
    assert curves.RULES[0] is cr.interrupted

    def codes(c):
        return [f.code for f in judge(curves.RULES, c, None, S)]

    assert codes(CHANCE) == ["DLC954"]
    assert codes(NOISY) == ["DLC955"]
    assert codes(TURNED) == ["DLC952"]
    assert codes(SLOW_HIGH) == ["DLC951", "DLC953"]
    assert codes(measured([2.3, 1.5], diverged_at=12, interrupted=True)) == ["DLC957", "DLC956"]


def test_summary_and_metrics_are_functions_of_the_curves():
    assert cr.summary(TURNED) == "after 6 epochs: train 0.2, val 1.3 (lowest 0.8 at epoch 3)"
    assert cr.summary(measured([2.3, 1.5])) == "1 measurement(s) after init: too few to read the curves"
    m = cr.metrics(SLOW_HIGH, S)
    assert list(m)[-5:] == ["val_fall", "val_noise_share", "improving_by", "train_excess_share", "gap_share"]
    assert m["improving_by"] == pytest.approx(0.0274, abs=1e-4)
    assert cr.metrics(TURNED, S)["overfit_epoch"] == 3.0
    assert "train_fall" not in cr.metrics(measured([2.3, 1.5], diverged_at=12), S)
