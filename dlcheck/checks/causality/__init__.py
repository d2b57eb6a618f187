"""Causality: in a sequence model that predicts what comes next, the output at position t depends
on the inputs at positions up to t alone.

A model is judged when it is causal by declaration (``causal = True`` in the target; a Hugging Face
model whose config says ``is_decoder`` or whose class is a ``...ForCausalLM`` / ``...LMHeadModel``)
or by its task (the model's own loss is a causal language model's shifted cross-entropy, or the
targets are the inputs shifted by one). Elsewhere (a bidirectional encoder such as BERT, a
classifier, ``causal = False`` in the target) the check is skipped with the reason.

In eval mode the output at a few positions t, spread over the sequence, is backpropagated one at a
time (every sample's, through a fixed random projection), and the gradient on every input position
is measured: float inputs (batch, time, features) get it themselves, token ids at the output of
the ``nn.Embedding`` that reads them (batch-independence's machinery, reused). An honest causal
model gives exactly zero gradient at positions after t. Where the future leaks, the first leaking
input position is named, and batch-independence's trace asked along the time axis says where the
mixing across time starts (attention without its causal mask, a bidirectional RNN, or between two
modules for hand-written attention).

``measure`` fills :class:`Measured` (measure.py; where the mixing starts: trace.py); one small rule
per finding code judges it (rules.py).
"""

from __future__ import annotations

from dlcheck.context import Context
from dlcheck.own_loss import loss_alone
from dlcheck.results import CheckResult
from dlcheck.rules import judge

from .measure import Measured, measure
from .rules import RULES, future, leaks, metrics, not_measured, rows, summary, unmeasured

NAME = "causality"
SETTINGS = {
    "positions": 4,  # output positions backpropagated, spread over the sequence
    "noise": 1e-6,  # gradient norm on later positions / on the positions up to t above this: a leak (DLC851)
}

__all__ = ["NAME", "SETTINGS", "RULES", "Measured", "measure", "run", "metrics", "summary", "rows", "leaks",
           "not_measured", "unmeasured", "future"]


def run(ctx: Context) -> CheckResult:
    result = ctx.result
    if ctx.task.loss_only:
        result.summary = f"{loss_alone(ctx.target)}: no per-position outputs to trace"
        return result.skip(f"{loss_alone(ctx.target)}, no per-position outputs to trace")
    m = measure(ctx)
    result.metrics.update(metrics(m))
    table = rows(m)
    if table:
        result.details["positions"] = table
    result.findings += judge(RULES, m, ctx.task, ctx.settings)
    result.summary = summary(m)
    reason = not_measured(m)
    if reason is not None:
        result.skip(reason)
    return result
