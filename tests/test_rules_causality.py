"""causality's rules on hand-built gradient norms: one case per code, and healthy numbers near the
noise threshold that must stay quiet (tests/rulecase.py)."""

from __future__ import annotations

import math

from dlcheck.checks import causality as ca
from dlcheck.checks.causality.trace import future_leak, leak
from dlcheck.rules import judge
from rulecase import Case, Quiet

S = ca.SETTINGS
NOISE = S["noise"]
WHY = "the targets are the inputs shifted by one position (next-token prediction)"
ATTN = {"position": 0, "after": "the input of 'blocks.0.attn'", "before": "the output of 'blocks.0.attn'",
        "module": "'blocks.0.attn'", "type": "MultiheadAttention"}
BETWEEN = {"position": 0, "after": "the output of 'qkv'", "before": "the input of 'proj'"}


def causal_row(length: int, t: int, future: float = 0.0) -> list[float]:
    """Gradient norms on the input positions: 1 on the positions up to ``t``, ``future`` after it."""
    return [1.0 if s <= t else future for s in range(length)]


def measured(rows: dict[int, list[float]], where=None, causal: str | None = WHY, **kw) -> ca.Measured:
    length = len(next(iter(rows.values()))) if rows else 8
    return ca.Measured(NOISE, causal=causal, length=length, positions=list(rows), norms=list(rows.values()),
                       where=where, **kw)


HEALTHY = measured({0: causal_row(8, 0), 2: causal_row(8, 2), 4: causal_row(8, 4), 6: causal_row(8, 6)})
LEAKY = measured({0: causal_row(8, 0, 0.03), 6: causal_row(8, 6)}, where=ATTN)

CASES = [
    Case("DLC851", ca.future, LEAKY, None, S,
         says=("1 of 2 output positions", "position 0 on 7 later (first: 1)", "0.03x", WHY,
               "in 'blocks.0.attn' (MultiheadAttention)"), advises=("generate_square_subsequent_mask",)),
    Case("DLC851", ca.future, measured({3: [0.0] * 4 + [0.5] * 4}, where=BETWEEN), None, S, name="future-only",
         says=("no gradient from the positions up to their own", "between the output of 'qkv' and the input "
                                                                   "of 'proj'"), advises=("-inf",)),
    Case("DLC851", ca.future, measured({0: causal_row(8, 0, 10 * NOISE)}), None, S, name="near-noise",
         says=("position 0 on 7 later",)),
    Case("DLC852", ca.unmeasured, measured({}, unmeasured="the outputs have no batch axis and time axis of 8 "
                                                          "positions"), None, S,
         says=("causality was not measured", "no batch axis and time axis")),
    Case("DLC852", ca.unmeasured, measured({0: [0.0] * 8}), None, S, name="no-gradient",
         says=("no gradient reaches the inputs from the outputs",)),
]

QUIET = [
    Quiet(ca.future, HEALTHY, None, S, name="causal"),
    # float round-off on later positions, at the noise threshold
    Quiet(ca.future, measured({0: causal_row(8, 0, NOISE), 5: causal_row(8, 5, 0.5 * NOISE)}), None, S,
          name="at-noise"),
    Quiet(ca.future, measured({2: causal_row(8, 2, math.nan)}), None, S, name="not-finite"),
    # a bidirectional encoder is not judged, however much it looks ahead
    Quiet(ca.future, measured({0: [1.0] * 8}, causal=None, skipped="BertForMaskedLM is a bidirectional encoder"),
          None, S, name="not-causal"),
    Quiet(ca.unmeasured, measured({}, causal=None, skipped="causal = False in the target"), None, S,
          name="not-causal"),
    Quiet(ca.unmeasured, HEALTHY, None, S),
]


def test_rules_are_pure_and_in_report_order():
    m = measured({0: causal_row(8, 0, 0.5), 3: [0.0] * 8}, where=ATTN)
    assert [f.code for f in judge(ca.RULES, m, None, S)] == ["DLC851"]
    assert m.norms[0] == causal_row(8, 0, 0.5) and m.where is ATTN  # judging changed nothing


def test_leak_ratio_and_the_worst_position():
    assert leak(causal_row(6, 2), 2) == 0.0
    assert leak(causal_row(6, 2, 0.25), 2) == 0.25
    assert leak([0.0, 0.0, 1.0], 0) == math.inf and math.isnan(leak([0.0] * 3, 0))
    assert future_leak([0, 3], [causal_row(6, 0, 0.1), causal_row(6, 3, 0.2)], NOISE) == 3
    assert future_leak([0, 3], [causal_row(6, 0), causal_row(6, 3)], NOISE) is None


def test_summary_metrics_and_table_are_functions_of_the_numbers():
    assert ca.summary(LEAKY) == ("the future leaks: the output at position 0 depends on input position 1; "
                                 "the mixing across time starts in 'blocks.0.attn' (MultiheadAttention)")
    metrics = ca.metrics(LEAKY)
    assert metrics["positions_examined"] == 2 and metrics["positions_leaking"] == 1
    assert metrics["first_leak"] == {"position": 0, "input_position": 1}
    assert metrics["mixing_starts"] == "in 'blocks.0.attn' (MultiheadAttention)"
    assert [r["future_positions"] for r in ca.rows(LEAKY)] == [7, 0]
    assert ca.summary(HEALTHY).startswith("4 output positions each depend on input positions up to their own")
    skipped = measured({}, causal=None, skipped="causal = False in the target")
    assert ca.summary(skipped) == "not judged: causal = False in the target"
    assert ca.not_measured(skipped) == "causal = False in the target"
