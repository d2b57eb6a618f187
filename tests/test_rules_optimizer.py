"""The optimizer check's rules on hand-built numbers: one case per code, and healthy numbers near
each threshold that must stay quiet (tests/rulecase.py)."""

from __future__ import annotations

import pytest

from dlcheck.checks import optimizer_setup as opt
from dlcheck.checks.optimizer_setup.measure import Measured
from rulecase import Case, Quiet

S = opt.SETTINGS


def measured(**kw) -> Measured:
    fields = dict(optimizer="AdamW", groups=[{"group": 0, "weight_decay": 0.01}], trainable=6,
                  trainable_elements=1000, stepped=True, output_layer="head")
    fields.update(kw)
    return Measured(**fields)


CASES = [
    Case("DLC971", opt.absent, measured(absent=["head.weight", "head.bias"], absent_elements=20,
                                        output_absent=["head.weight", "head.bias"], foreign=2, foreign_no_grad=2),
         None, S, severity="fail", name="head", says=("'head.weight'", "output layer 'head'", "not the model's")),
    Case("DLC971", opt.absent, measured(absent=["body.0.weight", "body.0.bias"], absent_elements=500), None, S,
         severity="fail", name="most", says=("50%", "'body.0.weight'")),
    Case("DLC971", opt.absent, measured(absent=["body.2.weight"], absent_elements=499), None, S,
         severity="warn", name="minor", says=("1 of 6", "'body.2.weight'")),
    Case("DLC972", opt.without_gradient, measured(no_grad=["aux.weight", "aux.bias"]), None, S,
         says=("'aux.weight'", "find_unused_parameters", "mixture of experts")),
    Case("DLC973", opt.coupled_decay, measured(optimizer="Adam", coupled=[(0, 0.01)]), None, S,
         says=("Adam with weight_decay=0.01",), advises=("AdamW(params, lr=lr, weight_decay=0.01)",)),
    Case("DLC974", opt.decay_on_exempt, measured(decayed={"norm": ["ln.weight"], "bias": ["fc.bias"],
                                                          "embedding": ["emb.weight"]}, decay=0.05), None, S,
         says=("weight decay 0.05", "'ln.weight'", "embedding")),
]

QUIET = [
    Quiet(opt.absent, measured(), None, S, name="all-in"),
    Quiet(opt.without_gradient, measured(foreign=2, foreign_no_grad=2), None, S, name="foreign-only"),
    Quiet(opt.coupled_decay, measured(optimizer="AdamW"), None, S, name="adamw"),
    Quiet(opt.decay_on_exempt, measured(decayed={"norm": ["ln.weight"], "bias": ["fc.bias"]}, decay=0.049),
          None, S, name="below-threshold"),
    Quiet(opt.decay_on_exempt, measured(decayed={"embedding": ["emb.weight"]}, decay=0.1), None, S,
          name="embeddings-only"),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_case(case):
    case.check()


@pytest.mark.parametrize("case", QUIET, ids=str)
def test_quiet(case):
    case.check()


def test_minor_absence_just_below_the_share_warns():
    found = opt.absent(measured(absent=["b"], absent_elements=int(S["absent_fail_share"] * 1000) - 1), None, S)
    assert found.severity == "warn"
