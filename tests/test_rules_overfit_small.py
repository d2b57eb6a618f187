"""overfit-small's rules on hand-built numbers: one case per code, and healthy numbers near each
threshold that must stay quiet (tests/rulecase.py)."""

from __future__ import annotations

import math

import pytest

from dlcheck.checks import overfit_small as ofs
from dlcheck.checks.overfit_small import rules as r
from dlcheck.rules import judge
from dlcheck.task import References, Task
from rulecase import Case, Quiet

S = ofs.SETTINGS
LN10 = math.log(10)
CE = Task(kind="classification", loss="CrossEntropyLoss", classes=10)
MSE = Task(kind="regression", loss="MSELoss")
BCE = Task(kind="multilabel", loss="BCEWithLogitsLoss", classes=5)
LM = Task(kind="classification", loss="CrossEntropyLoss", classes=50, dense=True, positions=32)


def measured(curve=None, fit_at=None, **kw) -> ofs.Measured:
    """A run of 5 batches on 10 classes at lr 1e-3 that memorised nothing unless told."""
    kw.setdefault("refs", References(LN10, LN10, 0.0))
    kw.setdefault("fit_loss", 0.05 * LN10)
    kw.setdefault("lr", 1e-3)
    kw.setdefault("total", 1000)
    return ofs.Measured(curve=curve if curve is not None else [LN10] * 500, batches=5, samples=160,
                        fit_at=fit_at, **kw)


def trend(slope: float, t: float, drop: float, needed: float | None = None) -> ofs.Trend:
    return ofs.Trend(slope=slope, t=t, drop=drop, steps_needed=needed)


FELL = [LN10] * 5 + [1.0] * 495  # fell from ln 10 to 1.0, then nothing
FIT = [LN10] * 5 + [0.01] * 5
FALLING = trend(-2e-3, -8.0, 0.3, needed=400.0)
FLAT_TREND = trend(-1e-5, -0.5, 0.001)

CASES = [
    Case("DLC208", r.nothing_to_learn, None,
         Task(kind="classification", loss="CrossEntropyLoss", classes=1,
              problem="cross-entropy over a single output column is identically 0"), S, says=("identically 0",)),
    Case("DLC207", r.regularisation_off, measured(FIT, fit_at=10, turned_off={"weight decay", "dropout"}), CE, S,
         says=("dropout, weight decay",)),
    Case("DLC202", r.diverged, measured([LN10, math.nan], diverged_at=1, lr=3.0), CE, S, says=("step 1", "lr 3")),
    Case("DLC206", r.slow, measured(FIT, fit_at=450), CE, S, severity="warn", says=("after 450 steps",)),
    Case("DLC206", r.slow, measured(FIT, fit_at=450), MSE, S, severity="info", name="regression-is-a-note"),
    Case("DLC206", r.slow, measured(FIT, fit_at=450), LM, S, severity="info", name="per-position-is-a-note"),
    Case("DLC203", r.probabilities, measured(probabilities=True), CE, S, says=("softmax",)),
    Case("DLC203", r.probabilities, measured(probabilities=True), BCE, S, says=("sigmoid",), name="sigmoid"),
    Case("DLC204", r.frozen, measured(unchanged={"body.weight": 600, "head.bias": 10}), CE, S,
         says=("61%", "body.weight")),
    Case("DLC209", r.still_falling, measured(FELL, trend=FALLING), CE, S, says=("not converged within 500", "400"),
         advises=("--max-steps", "lr-find")),
    Case("DLC201", r.flat, measured(trend=FLAT_TREND), CE, S, says=("did not fall", "lr 0.001")),
    Case("DLC205", r.stalled, measured(FELL, trend=FLAT_TREND), CE, S, says=("stalled at 1", "last 25%")),
]

QUIET = [
    Quiet(r.nothing_to_learn, None, CE, S),
    Quiet(r.regularisation_off, measured(FIT, fit_at=10), CE, S),
    Quiet(r.diverged, measured(FELL, trend=FLAT_TREND), CE, S),
    Quiet(r.slow, measured(FIT, fit_at=400), CE, S, name="at-slow-steps"),
    Quiet(r.frozen, measured(unchanged={"body.weight": 499}), CE, S, name="just-under-half"),
    # still falling, but too little of its excess over the window: a stall
    Quiet(r.still_falling, measured(FELL, trend=trend(-2e-3, -8.0, 0.01)), CE, S, name="too-little-drop"),
    Quiet(r.still_falling, measured(FELL, trend=trend(-2e-3, -2.9, 0.3)), CE, S, name="within-noise"),
    # (final - floor) just under flat_fraction x (initial - floor)
    Quiet(r.flat, measured([LN10] * 5 + [0.89 * LN10] * 495, trend=FLAT_TREND), CE, S, name="fell-a-little"),
    Quiet(r.stalled, measured(FIT, fit_at=10), CE, S, name="memorised"),
]


@pytest.mark.parametrize("m, codes", [
    (measured(FIT, fit_at=10, turned_off={"dropout"}), ["DLC207"]),
    (measured([LN10, math.nan], diverged_at=1, probabilities=True), ["DLC202"]),
    (measured(probabilities=True, unchanged={"w": 900}, trend=FLAT_TREND), ["DLC203"]),
    (measured(unchanged={"w": 900}, trend=FLAT_TREND), ["DLC204"]),
    (measured(FELL, trend=FALLING), ["DLC209"]),
    (measured(trend=FLAT_TREND), ["DLC201"]),
    (measured(FELL, trend=FLAT_TREND, turned_off={"dropout"}), ["DLC207", "DLC205"]),
], ids=["memorised", "diverged-first", "probabilities-before-frozen", "frozen", "falling", "flat", "stalled"])
def test_the_first_explanation_is_the_only_one(m, codes):
    assert [f.code for f in judge(ofs.RULES, m, CE, S)] == codes


def test_summary_follows_the_explanation():
    assert r.summary(measured(FIT, fit_at=10), S).startswith("memorised 5 batches in 10 steps")
    assert r.summary(measured([LN10, math.nan], diverged_at=1), S) == "the loss became non-finite at step 1"
    assert r.summary(measured(FELL, trend=FALLING), S).startswith("not converged after 500 steps")
    assert r.summary(measured(FELL, trend=FLAT_TREND), S).startswith("not memorised after 500 steps")
