"""Batch independence (Karpathy's recipe): one sample's output depends on that sample's input alone.

In eval mode (normalisation layers use their running statistics, dropout is off) an honest model
computes every sample on its own, so the gradient of one sample's output with respect to the
whole input batch is zero outside that sample, exactly. A few samples spread over the batch
(the first, the last, some between) are backpropagated one at a time, through a fixed random
projection of their output (a plain sum can vanish, e.g. after a softmax), and the gradient on
every sample of the input is measured. Float inputs get the gradient themselves; token ids
(integer inputs) get it at the output of the ``nn.Embedding`` that reads them.

Where samples leak into each other, the input and output tensor of every leaf module (recorded by
forward hooks, in execution order) is asked the same question for the sample that leaks most:
does its slice of that sample get gradient from other samples' inputs? The first tensor that does,
and the last one before it that does not, say where the mixing starts: inside a module (an LSTM
without ``batch_first=True``) or between two modules (a ``view`` that should have been a
``permute``). A tensor's sample axis is its first when that has the batch size, else the only
axis that has (sequence-first layers); tensors where that is ambiguous are passed over.

``measure`` fills :class:`Measured` (measure.py; where the mixing starts: trace.py); one small rule
per finding code judges it (rules.py).
"""

from __future__ import annotations

from dlcheck.context import Context
from dlcheck.own_loss import loss_alone
from dlcheck.results import CheckResult
from dlcheck.rules import judge

from .measure import Batch, Measured, measure
from .rules import RULES, leaks, metrics, mixed, not_measured, summary, unmeasured

NAME = "batch-independence"
SETTINGS = {
    "batches": 1,  # batches examined
    "samples": 4,  # samples per batch whose output is backpropagated, spread over the batch
    "noise": 1e-6,  # gradient norm on another sample / on the sample itself above this: mixing (DLC801)
    "mixes_samples": False,  # the model mixes samples by design: report, do not judge (DLC802)
}

__all__ = ["NAME", "SETTINGS", "RULES", "Batch", "Measured", "measure", "run", "metrics", "summary", "leaks",
           "not_measured", "unmeasured", "mixed"]


def run(ctx: Context) -> CheckResult:
    result = ctx.result
    if ctx.task.loss_only:
        result.summary = f"{loss_alone(ctx.target)}: no per-sample outputs to trace"
        return result.skip(f"{loss_alone(ctx.target)}, no per-sample outputs to trace")
    m = measure(ctx)
    result.metrics.update(metrics(m))
    rows = leaks(m).rows
    if rows:
        result.details["samples"] = rows
    result.findings += judge(RULES, m, ctx.task, ctx.settings)
    result.summary = summary(m)
    reason = not_measured(m)
    if reason is not None:
        result.skip(reason)
    return result

from .fixes import FIXES  # noqa: E402,F401  (the fixes --verify-fixes tries; dlcheck.fixes)
