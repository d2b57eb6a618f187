"""lr-find's rules on hand-built numbers: one case per code, and healthy numbers near each
threshold that must stay quiet (tests/rulecase.py)."""

from __future__ import annotations

import pytest
import torch

from dlcheck.checks import lr_find as lf
from dlcheck.checks.lr_find import rules as r
from dlcheck.lr_rules import Curve, Run
from dlcheck.rules import judge
from dlcheck.task import Task
from rulecase import Case, Quiet

S = lf.SETTINGS
CE = Task(kind="classification", loss="CrossEntropyLoss", classes=10)
LRS = [1e-7 * 1e8 ** (i / 99) for i in range(100)]  # 1e-7 .. 10
ONSET_LR = LRS[41]  # where FALLING is first measurably below its start (~2e-4)


def curve(smoothed: list[float], usable: int | None = None, diverge_lr: float | None = None) -> Curve:
    n = len(smoothed)
    return Curve(lrs=LRS[:n], losses=list(smoothed), smoothed=list(smoothed), usable=n if usable is None else usable,
                 diverge_lr=diverge_lr, window=10, initial=2.3, noise=0.05, floor=0.0, beta=0.9)


FLAT = curve([2.3] * 100)
FALLING = curve([2.3] * 40 + [2.3 - 1.8 * (i + 1) / 40 for i in range(40)] + [0.5] * 20)


def run(lr: float, end: float) -> Run:
    """100 steps at ``lr`` from 2.3 down to ``end`` in a straight line."""
    return Run(lr=lr, losses=[2.3 + (end - 2.3) * i / 99 for i in range(100)], initial=2.3, noise=0.05,
               floor=0.0, init_window=10, window=10)


def ev(c: Curve = FALLING, lr: float = 1e-3, configured: bool = True, **kw) -> lf.Evidence:
    kw.setdefault("handed_lr", lr)
    return lf.Evidence(curve=c, lr=lr, configured=configured, source="--lr" if configured else "the default lr",
                       **kw)


RULES_FOUND = {"steepest": 3e-3, "valley": 1e-3, "minimum/10": 1e-3}
SUGGESTED = lf.primary(RULES_FOUND)
PROBE_FLAT = [run(v, 2.3) for v in S["probe_lrs"]]
PROBE_ONE = [run(1e-1, 2.3), run(1e-2, 1.2), run(1e-3, 2.25), run(1e-4, 2.3)]

CASES = [
    Case("DLC305", r.unusable, ev(curve([2.3] * 12, diverge_lr=LRS[11])), CE, S, says=("only 12 points",)),
    Case("DLC305", r.unusable, ev(rules={}), CE, S, says=("no falling stretch",), name="no-stretch"),
    Case("DLC301", r.no_fall, ev(FLAT, probe=PROBE_FLAT, yours=run(1e-3, 2.3)), CE, S,
         says=("did not fall", "nor did 100 steps", "0.1, 0.01, 0.001, 0.0001")),
    Case("DLC306", r.plateau, ev(FLAT, probe=PROBE_ONE, yours=run(1e-3, 2.25), suggested=1e-2), CE, S,
         severity="warn", says=("plateau", "lr 0.01")),
    Case("DLC306", r.plateau, ev(FLAT, probe=PROBE_ONE, yours=run(1e-3, 1.5), suggested=1e-2), CE, S,
         severity="info", name="your-lr-trains"),
    Case("DLC304", r.disagree, ev(rules={"steepest": 1e-1, "minimum/10": 1e-3}, suggested=5e-3), CE, S,
         says=("100x apart",)),
    Case("DLC302", r.above_divergence, ev(lr=3.0, rules=RULES_FOUND, suggested=SUGGESTED,
                                          c=curve(FALLING.smoothed, usable=95, diverge_lr=1.0)), CE, S,
         severity="warn", says=("--lr 3", "at or above 1")),
    Case("DLC302", r.above_divergence, ev(lr=3.0, configured=False, rules=RULES_FOUND, suggested=SUGGESTED,
                                          c=curve(FALLING.smoothed, usable=95, diverge_lr=1.0)), CE, S,
         severity="info", name="default-lr"),
    Case("DLC303", r.far_below, ev(lr=1e-5, suggested=1e-2, rules=RULES_FOUND, yours=run(1e-5, 2.25)), CE, S,
         severity="warn", says=("1000x below", "only")),
    Case("DLC303", r.far_below, ev(lr=1e-5, suggested=1e-2, rules=RULES_FOUND, yours=run(1e-5, 1.5)), CE, S,
         severity="info", says=("it trains",), name="short-run-trains"),
    Case("DLC303", r.far_below, ev(lr=1e-5, configured=False, suggested=1e-2, rules=RULES_FOUND), CE, S,
         severity="info", name="default-lr"),
    Case("DLC303", r.far_below, ev(lr=1e-3, suggested=1e-1, rules=RULES_FOUND), CE, S,
         severity="info", says=("already falling",), name="sweep-already-falling"),
    Case("DLC016", r.world_scaled, ev(lr=4e-2, handed_lr=1e-2, factory=True, world=4, suggested=SUGGESTED,
                                      rules=RULES_FOUND, c=curve(FALLING.smoothed, usable=95, diverge_lr=3e-2)),
         CE, S, says=("by 4 = N for the 4 ranks", "where the sweep diverged")),
]

QUIET = [
    Quiet(r.unusable, ev(curve(FALLING.smoothed[:15]), rules={}), CE, S, name="min-points-no-fall"),
    Quiet(r.unusable, ev(rules=RULES_FOUND, suggested=SUGGESTED), CE, S),
    Quiet(r.no_fall, ev(FLAT, probe=PROBE_ONE, yours=run(1e-3, 2.3), suggested=1e-2), CE, S, name="probe-fell"),
    Quiet(r.no_fall, ev(rules=RULES_FOUND, suggested=SUGGESTED), CE, S, name="sweep-fell"),
    Quiet(r.plateau, ev(FLAT, probe=PROBE_FLAT, yours=run(1e-3, 2.3)), CE, S, name="nothing-fell"),
    Quiet(r.disagree, ev(rules={"steepest": 9e-3, "minimum/10": 1e-3}, suggested=2e-3), CE, S, name="9x-apart"),
    Quiet(r.above_divergence, ev(lr=0.9, rules=RULES_FOUND, suggested=SUGGESTED,
                                 c=curve(FALLING.smoothed, usable=95, diverge_lr=1.0)), CE, S, name="just-below"),
    Quiet(r.far_below, ev(lr=1e-3, suggested=1e-2, rules=RULES_FOUND), CE, S, name="10x-below"),
    Quiet(r.world_scaled, ev(lr=4e-3, handed_lr=1e-3, factory=True, world=4, suggested=SUGGESTED,
                             rules=RULES_FOUND), CE, S, name="scaled-in-range"),
    Quiet(r.world_scaled, ev(lr=4e-2, handed_lr=1e-2, factory=True, world=1, suggested=SUGGESTED,
                             rules=RULES_FOUND, c=curve(FALLING.smoothed, usable=95, diverge_lr=3e-2)), CE, S,
          name="one-rank"),
]


def test_the_hand_built_curves_read_as_meant():
    assert not r.sweep_fell(FLAT, S) and r.sweep_fell(FALLING, S)
    assert FALLING.lrs[FALLING.onset(S["onset_fall"], S["noise_z"])] == ONSET_LR
    assert 1e-5 < ONSET_LR < 1e-3


def test_rules_in_report_order_and_summary():
    e = ev(lr=1e-5, suggested=1e-2, rules={"steepest": 1e-1, "minimum/10": 1e-3}, yours=run(1e-5, 2.25))
    assert [f.code for f in judge(lf.RULES, e, CE, S)] == ["DLC304", "DLC303"]
    assert r.summary(e, S).startswith("suggested lr 0.01 (steepest 0.1, minimum/10 0.001)")
    m = r.metrics(e, S)
    assert m["suggested_lr"] == 0.01 and m["your_lr_fall"] is not None and m["rules_spread"] == 100


def test_plain_sgd_scales_the_blend_up_to_at_most_the_sweeps_lowest_point():
    """SGD without momentum: its best fixed LR sits nearer the edge of stability than the blend
    (benchmarks/lr_quality.py), so the blend is scaled by plain_sgd_factor, never past the LR of
    the sweep's lowest point nor below the blend."""
    def read(plain: bool, **settings):
        e = ev(plain_sgd=plain)
        lf.suggest.read(e, {**S, **settings})
        return e
    blend, scaled = read(False), read(True)
    assert blend.rules == scaled.rules and blend.suggested == pytest.approx(lf.primary(blend.rules))
    assert scaled.suggested == pytest.approx(S["plain_sgd_factor"] * blend.suggested)
    lowest = FALLING.lrs[FALLING.best_index]
    assert blend.suggested < scaled.suggested < lowest
    assert read(True, plain_sgd_factor=100.0).suggested == lowest  # capped at the lowest point
    assert read(True, plain_sgd_factor=0.5).suggested == blend.suggested  # never below the blend
    assert "x2.5 for SGD without momentum" in r.summary(scaled, S) and "momentum" not in r.summary(blend, S)
    assert r.metrics(scaled, S)["suggested_by"] == "blend x plain_sgd_factor"
    assert r.metrics(blend, S)["suggested_by"] == "blend"


@pytest.mark.parametrize("make, plain", [
    (lambda p: torch.optim.SGD(p, lr=0.1), True),
    (lambda p: torch.optim.SGD(p, lr=0.1, weight_decay=1e-4), True),
    (lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9), False),
    (lambda p: torch.optim.SGD([{"params": p[:1]}, {"params": p[1:], "momentum": 0.9}], lr=0.1), False),
    (lambda p: torch.optim.Adam(p, lr=1e-3), False),
])
def test_plain_sgd_is_sgd_without_momentum_in_any_group(make, plain):
    from dlcheck.checks.lr_find.measure import plain_sgd

    assert plain_sgd(make(list(torch.nn.Linear(2, 2).parameters()))) is plain


def test_an_open_ended_sweep_blends_no_minimum_over_ten():
    """A sweep that never diverged and is lowest at its last LR (normalised embeddings keep the loss
    bounded at any LR): the minimum that minimum/10 reads is where the LRs ran out, so the
    suggestion is steepest descent's alone; the rule is still reported, and said to be left out."""
    still_falling = curve([2.3] * 40 + [2.3 - 1.8 * (i + 1) / 60 for i in range(60)])  # lowest at its last point
    e = ev(still_falling)
    lf.suggest.read(e, S)
    assert lf.suggest.open_ended(still_falling) and not lf.suggest.open_ended(FALLING)
    assert "minimum/10" in e.rules and e.suggested == pytest.approx(e.rules["steepest"]), e.rules
    assert [row["blended"] for row in r.details(e, S)["suggestions"] if row["rule"] == "minimum/10"] == [False]
    assert "minimum/10 not blended" in r.summary(e, S)
    e = ev(curve(still_falling.smoothed, usable=95, diverge_lr=LRS[95]))  # diverged: the turn up was seen
    lf.suggest.read(e, S)
    assert e.suggested == pytest.approx(lf.primary(e.rules)) and e.suggested > 2 * e.rules["steepest"]

