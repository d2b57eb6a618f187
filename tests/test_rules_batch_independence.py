"""batch-independence's rules on hand-built gradient norms: one case per code, and healthy numbers
near the noise threshold that must stay quiet (tests/rulecase.py)."""

from __future__ import annotations

import math


from dlcheck.checks import batch_independence as bi
from dlcheck.rules import judge
from rulecase import Case, Quiet

S = bi.SETTINGS
NOISE = S["noise"]
LSTM = {"sample": 7, "after": "the input", "before": "the output of 'lstm'", "module": "'lstm'", "type": "LSTM"}
VIEW = {"sample": 7, "after": "the output of 'conv'", "before": "the input of 'fc'"}


def own(size: int, sample: int, other: float = 0.0, on_own: float = 1.0) -> list[float]:
    """A row of gradient norms: ``on_own`` on the sample itself, ``other`` on every other sample."""
    return [on_own if j == sample else other for j in range(size)]


def batch(rows: dict[int, list[float]], index: int = 0, where=None, size: int = 8, **kw) -> bi.Batch:
    return bi.Batch(index, size, samples=list(rows), norms=list(rows.values()), where=where, **kw)


def measured(*batches: bi.Batch, by_design: bool = False) -> bi.Measured:
    return bi.Measured(list(batches), NOISE, by_design)


HEALTHY = batch({0: own(8, 0), 2: own(8, 2), 5: own(8, 5), 7: own(8, 7)})
# an LSTM run along the batch: the last sample's output depends on every sample before it
MIXED = batch({0: own(8, 0), 2: own(8, 2, 0.0), 7: [0.3] * 7 + [1.0]}, where=LSTM)

CASES = [
    Case("DLC801", bi.mixed, measured(MIXED), None, S,
         says=("1 of 3 samples examined", "sample 7 on 7 others (0-6)", "0.3x", "in 'lstm' (LSTM)"),
         advises=("batch_first=True",)),
    Case("DLC801", bi.mixed, measured(batch({7: own(8, 7, 0.5, on_own=0.0)}, where=VIEW)), None, S,
         name="no-own-gradient", says=("no gradient from their own input", "between the output of 'conv'"),
         advises=("permute",)),
    Case("DLC801", bi.mixed, measured(HEALTHY, batch({3: own(8, 3, 1e-3)}, index=1)), None, S,
         name="of-batch", says=("sample 3 of batch 1",)),
    Case("DLC801", bi.mixed, measured(batch({7: own(8, 7, 0.5)}, where=VIEW)), None, S, name="how-to-declare",
         advises=("permute", "set mixes_samples = True in the target")),
    # a graph over the batch: an (n, n) input (the adjacency) relates the samples, the mixing may be
    # the point (a GCN's node classification): a warning that says so, never a fail
    Case("DLC801", bi.mixed, measured(batch({7: own(8, 7, 0.5)}, where=VIEW, relations=(8, 8))), None, S,
         severity="warn", name="graph-over-the-batch", says=("8x8 input relating its samples",),
         advises=("set mixes_samples = True in the target",)),
    Case("DLC802", bi.mixed, measured(batch({7: own(8, 7, 0.5)}, relations=(8, 8)), by_design=True), None, S,
         name="graph-declared", says=("depend on other samples",)),
    Case("DLC802", bi.mixed, measured(MIXED, by_design=True), None, S, says=("depend on other samples",)),
    Case("DLC803", bi.unmeasured, measured(bi.Batch(0, 1, unmeasured="the batch holds one sample")), None, S,
         says=("was not measured: the batch holds one sample",)),
    Case("DLC803", bi.unmeasured, measured(HEALTHY, bi.Batch(1, 8, unmeasured="no gradient reaches the outputs "
                                                                           "from the inputs")), None, S,
         name="one-batch-of-several", says=("batch 1 was not measured",)),
    Case("DLC803", bi.unmeasured, measured(batch({0: [0.0] * 8})), None, S, name="no-gradient-anywhere",
         says=("no gradient reaches the inputs from the outputs",)),
]

QUIET = [
    Quiet(bi.mixed, measured(HEALTHY), None, S, name="independent"),
    # float round-off on other samples, at the noise threshold
    Quiet(bi.mixed, measured(batch({0: own(8, 0, NOISE), 7: own(8, 7, 0.5 * NOISE)})), None, S, name="at-noise"),
    Quiet(bi.mixed, measured(batch({7: own(8, 7, math.nan)})), None, S, name="not-finite"),
    Quiet(bi.mixed, measured(bi.Batch(0, 1, unmeasured="the batch holds one sample")), None, S,
          name="unmeasured"),
    Quiet(bi.unmeasured, measured(HEALTHY, MIXED), None, S),
]


def test_rules_are_pure_and_in_report_order():
    m = measured(MIXED, bi.Batch(1, 8, unmeasured="no gradient reaches the outputs from the inputs"))
    assert [f.code for f in judge(bi.RULES, m, None, S)] == ["DLC803", "DLC801"]
    assert MIXED.norms[2] == [0.3] * 7 + [1.0] and MIXED.where is LSTM  # judging changed nothing


def test_summary_metrics_and_table_are_functions_of_the_numbers():
    m = measured(MIXED)
    assert bi.summary(m) == ("samples mix across the batch: 1 of 3 examined depend on other samples; "
                             "the mixing starts in 'lstm' (LSTM)")
    metrics = bi.metrics(m)
    assert metrics["samples_examined"] == 3 and metrics["samples_mixed"] == 1
    assert metrics["max_leak_ratio"] == 0.3 and metrics["mixing_starts"] == "in 'lstm' (LSTM)"
    assert [r["depends_on"] for r in bi.leaks(m).rows] == [0, 0, 7]
    assert bi.summary(measured(HEALTHY)).startswith("4 samples' outputs each depend on their own input alone")
    assert bi.summary(measured(bi.Batch(0, 1, unmeasured="the batch holds one sample"))) == \
        "not measured: the batch holds one sample"
    assert bi.summary(measured(MIXED, by_design=True)).endswith("(by design: mixes_samples is set)")
