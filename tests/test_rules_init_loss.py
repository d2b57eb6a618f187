"""init-loss's rules on hand-built numbers: one case per code, and healthy numbers near each
threshold that must stay quiet (tests/rulecase.py)."""

from __future__ import annotations

import math


from dlcheck.checks import init_loss as il
from dlcheck.task import References, Task
from rulecase import Case, Quiet

S = il.SETTINGS
LN10 = math.log(10)
CE = Task(kind="classification", loss="CrossEntropyLoss", classes=10)
MSE = Task(kind="regression", loss="MSELoss")
BCE = Task(kind="multilabel", loss="BCEWithLogitsLoss", classes=5)


def measured(loss: float, expected: float = LN10, constant: float | None = LN10, floor: float = 0.0, **kw):
    return il.Measured(loss=loss, refs=References(expected, constant, floor), batches=4, samples=256, **kw)


CASES = [
    Case("DLC110", il.identically_zero, measured(0.0),
         Task(kind="classification", loss="CrossEntropyLoss", classes=1,
              problem="cross-entropy over a single output column is identically 0"), S, says=("identically 0",)),
    Case("DLC108", il.no_reference, measured(3.2, expected=None), Task(kind="other", loss="my_loss"), S,
         says=("3.2", "without a verdict")),
    Case("DLC108", il.no_reference, measured(14.9, expected=None),
         Task(kind="other", loss="loss_fn", source="set in 'task' in the target",
              note="task 'classification' was set, but the outputs or targets are not tensors: no references"), S,
         name="task-set-dict-target", says=("task 'classification' was set",), advises=("nothing to change",)),
    Case("DLC104", il.not_finite, measured(math.nan), CE, S, says=("nan",)),
    Case("DLC106", il.width_mismatch, measured(LN10, output_width=10, declared_classes=12), CE, S,
         says=("10 classes", "num_classes is 12")),
    Case("DLC101", il.above, measured(30 * LN10, head="fc"), CE, S, severity="fail", says=("fail above",),
         advises=("'fc'",)),
    Case("DLC101", il.above, measured(2.5 * LN10), CE, S, severity="warn", name="far-above-warns"),
    Case("DLC101", il.above, measured(4.2 * 2.0, expected=2.0, constant=2.0), MSE, S, severity="warn",
         name="regression-by-ratio", says=("E[y²]",)),
    Case("DLC102", il.above, measured(1.6 * LN10, classes=10), CE, S, says=("1.60x", "ln(10)")),
    Case("DLC103", il.below, measured(0.5, constant=2.0), CE, S, says=("below the label entropy",)),
    Case("DLC109", il.imbalance, measured(LN10, constant=0.5 * LN10), CE, S, says=("imbalanced",)),
    Case("DLC111", il.imbalance, measured(5.0, expected=5.0, constant=1.0), MSE, S, says=("off-centre",)),
    Case("DLC105", il.collapsed, measured(LN10, classes=10, top_share=0.99, top_class=3, confidence=0.9), CE, S,
         says=("class 3",)),
    Case("DLC105", il.collapsed, measured(math.log(2), classes=2, top_share=1.0, top_class=0, confidence=0.99,
                                          top_label_share=0.85), CE, S, name="far-above-the-class-share",
         says=("class 0",)),
]

QUIET = [
    Quiet(il.above, measured(1.1 * LN10), CE, S, name="near-ln-C"),
    # two classes: a ratio of 1.3 is 0.2 nats, below min_excess
    Quiet(il.above, measured(1.3 * math.log(2), expected=math.log(2), constant=math.log(2)),
          Task(kind="classification", loss="CrossEntropyLoss", classes=2), S, name="two-classes"),
    Quiet(il.below, measured(0.9 * LN10), CE, S),
    Quiet(il.imbalance, measured(LN10, constant=0.95 * LN10), CE, S),
    Quiet(il.collapsed, measured(LN10, classes=10, top_share=0.99, top_class=3, confidence=0.15), CE, S,
          name="confident-only-at-chance"),
    # 85 % of the labels are class 0: a bias at the label prior predicts it at its frequency
    Quiet(il.collapsed, measured(math.log(2), classes=2, top_share=1.0, top_class=0, confidence=0.85,
                                 top_label_share=0.85), CE, S, name="prior-bias-on-imbalanced-labels"),
    Quiet(il.width_mismatch, measured(LN10, output_width=10, declared_classes=10), CE, S),
    Quiet(il.no_reference, measured(LN10), CE, S),
    Quiet(il.not_finite, measured(LN10), CE, S),
    Quiet(il.identically_zero, measured(LN10), CE, S),
]


def test_rules_are_pure_and_in_report_order():
    assert il.RULES[0] is il.identically_zero
    m = measured(30 * LN10)
    assert [f.code for f in il.judge(il.RULES, m, CE, S)] == ["DLC101"]
    assert m.loss == 30 * LN10  # judging changed nothing
