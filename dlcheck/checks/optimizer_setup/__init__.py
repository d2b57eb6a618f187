"""The optimizer lint: the optimizer the user's factory builds, read against the model.

The factory is handed ``model.parameters()`` as training hands it, and its param groups are
compared with the model's parameters by identity: trainable parameters in no group (an optimizer
built before the head was replaced, a factory that closes over another model's parameters) never
change (DLC971). One training step with the user's optimizer shows which parameters it updates
got no gradient (DLC972). The groups' weight decay is read too: Adam's coupled L2 where AdamW was
meant (DLC973), and a large decay on norm weights and biases (DLC974, info).

The model is handed back exactly as found (``ctx.model()``); nothing of the step stays.
"""

from __future__ import annotations

from dlcheck.checks.optimizer_setup.measure import Measured, OutputLayer, kind, measure
from dlcheck.checks.optimizer_setup.rules import (RULES, absent, coupled_decay, decay_on_exempt, metrics, summary,
                                                  without_gradient)
from dlcheck.context import Context
from dlcheck.results import CheckResult
from dlcheck.rules import judge

__all__ = ["NAME", "SETTINGS", "run", "Measured", "OutputLayer", "RULES", "absent", "without_gradient",
           "coupled_decay", "decay_on_exempt", "kind", "measure", "metrics", "summary"]

NAME = "optimizer"
SETTINGS = {
    "absent_fail_share": 0.5,  # trainable elements left out of every param group at or above this share: fail
    "exempt_decay_min": 0.05,  # weight decay at or above this on norm weights / biases: DLC974 (info)
    "names_shown": 6,  # parameter names a message lists before "and N more"
}


def run(ctx: Context) -> CheckResult:
    result = ctx.result
    m = measure(ctx)
    result.details["groups"] = m.groups
    result.table("param-groups.csv", m.groups)
    result.metrics.update(metrics(m))
    result.findings += judge(RULES, m, ctx.task, ctx.settings)
    result.summary = summary(m)
    return result

from dlcheck.checks.optimizer_setup.fixes import FIXES  # noqa: E402,F401  (the fixes --verify-fixes tries)
