"""grid's rules on hand-built grids: one case per code, and healthy grids near each threshold that
must stay quiet (tests/rulecase.py)."""

from __future__ import annotations


from dlcheck.checks import grid
from dlcheck.checks.grid import rules as gr
from dlcheck.checks.grid.trials import Cell, Outcome, Plan
from dlcheck.rules import judge
from dlcheck.task import References
from rulecase import Case, Quiet

S = grid.SETTINGS
LRS = (1e-3, 3e-3, 1e-2)
WDS = (1e-4, 1e-5, 0.0)
PLAN = Plan(per_epoch=10, total=10, evals=[4, 7, 10])
BASE = {1e-3: 2.0, 3e-3: 1.0, 1e-2: 1.5}  # the best LR in the middle


def measured(loss=lambda lr, wd: BASE[lr] + 1000 * wd, status=None, lrs=LRS, wds=WDS, initial=2.3, **kw):
    """A grid whose cell (lr, wd) reached val loss ``loss(lr, wd)``; ``status``: {(lr, wd): status}."""
    cells = [Cell(lr, wd) for lr in lrs for wd in wds]
    status = status or {}
    outcomes = {}
    for c in cells:
        st = status.get((c.lr, c.wd), "done")
        v = {"done": loss(c.lr, c.wd), "pruned": loss(c.lr, c.wd), "diverged": 30.0}.get(st)
        outcomes[c.key] = Outcome(cell=c, status=st, val_loss=v, best_val_loss=v, steps=10 if v else 0)
    kw.setdefault("wd", 0.0)
    return gr.Measured(cells=cells, outcomes=outcomes, initial_loss=initial, plan=PLAN,
                       refs=References(initial, initial, 0.0), **kw)


def flat_wd(lr, wd):
    return BASE[lr]


CASES = [
    Case("DLC901", gr.best_on_edge, measured(lambda lr, wd: 3e-3 / lr + 1000 * wd), None, S,
         name="lr-highest", says=("the best lr 0.01 is the highest", "val loss 0.3; 1 at the next lr 0.003"),
         advises=("--lrs 0.003,0.01,0.033",)),
    Case("DLC901", gr.best_on_edge, measured(lambda lr, wd: lr * 300 + 1000 * wd), None, S, name="lr-lowest",
         says=("is the lowest", "may lie lower"), advises=("lower learning rates",)),
    Case("DLC901", gr.best_on_edge, measured(lambda lr, wd: BASE[lr] - 1000 * wd), None, S, name="wd-largest",
         says=("weight decay 0.0001 is the largest",), advises=("--weight-decays 0.001,0.0001,1e-05",)),
    Case("DLC901", gr.best_on_edge, measured(lambda lr, wd: BASE[lr] + 1000 * wd, wds=(1e-4, 1e-5)), None, S,
         name="wd-smallest-above-zero", says=("1e-05 is the smallest of the grid, and above 0",)),
    Case("DLC902", gr.all_diverged, measured(status={(lr, wd): "diverged" for lr in LRS for wd in WDS}), None, S,
         says=("all 9 trials diverged within 1 epoch", "from 0.001 to 0.01"), advises=("--lrs below 0.001",)),
    Case("DLC903", gr.nothing_learned, measured(lambda lr, wd: 2.29), None, S,
         says=("2.3 at init, at best 2.29 (floor 0)", "under 5%")),
    Case("DLC904", gr.wd_no_effect, measured(flat_wd), None, S, says=("at lr 0.003", "0.0001, 1e-05, 0")),
    Case("DLC905", gr.far_from_configured, measured(lr=1e-4, source="--lr"), None, S, name="lr",
         says=("30x above the lr you train with (0.0001, --lr)",), advises=("--lr 0.003",)),
    Case("DLC905", gr.far_from_configured, measured(lambda lr, wd: BASE[lr] - 1000 * wd), None, S, name="wd",
         says=("weight decay 0.0001 is far from the one your optimizer sets (0), which gave 1 against 0.9",),
         advises=("weight_decay=0.0001",)),
    Case("DLC906", gr.incomplete, measured(status={(1e-2, 0.0): "not run"}), None, S, name="no-storage",
         says=("1 of 9 cells", "lr 0.01 wd 0: not run"), advises=("use --storage",)),
    Case("DLC906", gr.incomplete, measured(status={(1e-2, 0.0): "running elsewhere"}, storage=True), None, S,
         name="storage", says=("running elsewhere",), advises=("with the same --storage it resumes",)),
    Case("DLC907", gr.some_diverged, measured(status={(1e-2, 1e-4): "diverged"}), None, S,
         says=("1 trial(s) diverged: lr 0.01 wd 0.0001",)),
]

QUIET = [
    Quiet(gr.best_on_edge, measured(), None, S, name="best-inside"),
    # the highest LR is best, but by under edge_margin (1%) against the next LR
    Quiet(gr.best_on_edge, measured(lambda lr, wd: {1e-3: 2.0, 3e-3: 1.005, 1e-2: 1.0}[lr] + 1000 * wd), None,
          S, name="edge-within-margin"),
    Quiet(gr.best_on_edge, measured(flat_wd), None, S, name="wd-no-effect-says-no-wd-edge"),
    Quiet(gr.all_diverged, measured(status={(1e-2, 1e-4): "diverged"}), None, S),
    # fell 6% of the way to the floor: min_fall is 5%
    Quiet(gr.nothing_learned, measured(lambda lr, wd: 2.3 * 0.94 + 1000 * wd), None, S),
    Quiet(gr.nothing_learned, measured(status={(lr, wd): "diverged" for lr in LRS for wd in WDS}), None, S,
          name="all-diverged-says-902-only"),
    # at the best LR the weight decays span 3% of the loss: wd_tolerance is 2%
    Quiet(gr.wd_no_effect, measured(lambda lr, wd: BASE[lr] * (1 + 300 * wd)), None, S),
    # 3x the configured LR: far_factor is 3
    Quiet(gr.far_from_configured, measured(lr=1e-3, source="--lr"), None, S, name="lr-one-step"),
    # 10x the configured LR, but the configured LR's own cells within far_margin (5%) of the best
    Quiet(gr.far_from_configured, measured(lambda lr, wd: {1e-3: 1.04, 3e-3: 1.5, 1e-2: 1.0}[lr] + 1000 * wd,
                                           lr=1e-3, source="the target's lr"), None, S, name="lr-own-cells-close"),
    Quiet(gr.far_from_configured, measured(lr=1e-4, source="--lrs"), None, S, name="lr-not-configured"),
    Quiet(gr.far_from_configured, measured(lambda lr, wd: BASE[lr] - 1000 * wd, wd=3e-4), None, S,
          name="wd-within-factor"),
    Quiet(gr.incomplete, measured(status={(1e-2, 0.0): "pruned", (1e-2, 1e-4): "diverged"}), None, S),
    Quiet(gr.some_diverged, measured(), None, S),
    Quiet(gr.some_diverged, measured(lambda lr, wd: 2.29, status={(1e-2, 1e-4): "diverged"}), None, S,
          name="nothing-learned-says-903-only"),
]


def test_rules_in_report_order_and_the_reading_ends_at_902_and_903():
    assert grid.RULES[0] is gr.incomplete
    m = measured(status={(1e-2, 0.0): "not run", (1e-2, 1e-4): "diverged"}, lr=1e-4, source="--lr")
    assert [f.code for f in judge(grid.RULES, m, None, S)] == ["DLC906", "DLC907", "DLC905"]
    every = {(lr, wd): "diverged" for lr in LRS for wd in WDS}
    assert [f.code for f in judge(grid.RULES, measured(status=every), None, S)] == ["DLC902"]
    assert [f.code for f in judge(grid.RULES, measured(lambda lr, wd: 2.29), None, S)] == ["DLC903"]


def test_summary_and_metrics_are_functions_of_the_grid():
    m = measured(lambda lr, wd: 3e-3 / lr + 1000 * wd, status={(1e-3, 1e-4): "pruned"})
    assert gr.summary(m) == "best lr 0.01, weight decay 0: val loss 0.3 after 1 epoch (9 cells, 1 pruned)"
    metrics = gr.metrics(m, S)
    assert metrics["best_lr"] == 0.01 and metrics["widen"] == "higher" and metrics["pruned"] == 1
    assert list(metrics)[-2:] == ["wd_spread", "widen"]
    every = {(lr, wd): "diverged" for lr in LRS for wd in WDS}
    assert gr.summary(measured(status=every)) == "every trial diverged (lr 0.001, 0.003, 0.01)"
    assert "best_lr" not in gr.metrics(measured(status=every), S)
