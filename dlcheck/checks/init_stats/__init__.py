"""Recipe step 4: per-layer statistics at initialisation, and what they say about the init.

A few batches go through the freshly initialised model with forward hooks on its weight layers
(Linear, Conv) and activation modules; the last of them also goes through the one training step,
so that gradient norms (after backward) and update-to-weight ratios (after one optimizer step)
are read off the optimizer's step hooks. Activations applied functionally (``F.relu`` inside
``forward``) have no module: the input of the next weight layer is measured instead.

Hooks only reduce on the device (sums, norms, counts, per-unit maxima) and keep those small
tensors; everything is stacked and moved to the host once, at the end (recorder.py). The check
measures into :class:`Measured` (measure.py); one pure rule per finding code judges those plain
numbers against SETTINGS (rules.py), which also give the layer table, metrics and summary.
"""

from __future__ import annotations

from dlcheck.checks.init_stats.measure import (Measured, StepProbe, Stream, fan_in, gradient_norms, measure,
                                               post_relu)
from dlcheck.checks.init_stats.recorder import (BOUNDED, NORMS, OTHER_ACTIVATIONS, RELU_FAMILY, WEIGHT_LAYERS,
                                                Record, Recorder)
from dlcheck.checks.init_stats.rules import (COLUMNS, RULES, dead_units, gradients, layer_table, metrics,
                                             not_finite, not_measured, saturation, summary, through_depth,
                                             update_ratio, weight_scale)
from dlcheck.context import Context
from dlcheck.results import CheckResult
from dlcheck.rules import judge

__all__ = ["NAME", "SETTINGS", "run", "Measured", "Stream", "StepProbe", "Record", "Recorder", "RULES", "COLUMNS",
           "BOUNDED", "NORMS", "OTHER_ACTIVATIONS", "RELU_FAMILY", "WEIGHT_LAYERS", "fan_in", "gradient_norms",
           "post_relu", "judge", "layer_table", "metrics", "summary", "not_finite", "through_depth", "saturation",
           "dead_units", "gradients", "weight_scale", "update_ratio"]

NAME = "init-stats"
SETTINGS = {
    "batches": 4,  # batches fed through the model (the last one also trains one step)
    "collapse_ratio": 0.01,  # last / first weight-layer output std at or below this: DLC401 ...
    "explode_ratio": 100.0,  # ... at or above this: DLC402
    "trend_share": 0.7,  # ... when at least this share of layer-to-layer steps goes that way
    "min_depth": 3,  # weight layers needed before a trend through depth is judged
    "saturation_level": 0.97,  # |tanh| (or the same point of sigmoid/hardtanh) counted as saturated
    "saturated_fraction": 0.3,  # a layer with this share of saturated outputs: DLC403
    "dead_fraction": 0.2,  # a layer with this share of dead units: DLC404
    "min_unit_samples": 32,  # values per unit needed before a unit may be called dead (after global pooling,
    #                          as in squeeze-excitation blocks, one value per sample, and samples share most)
    "grad_vanish_ratio": 1e-3,  # first / last layer gradient norm below this: DLC405
    "grad_explode_ratio": 1e3,  # ... above this: DLC406
    "weight_scale_factor": 3.0,  # weight std beyond this factor of both Xavier and He: DLC407
    "update_high": 0.3,  # median update / weight ratio of the weight layers above this: DLC409
    "update_low": 1e-6,  # ... the largest one below this: DLC409
    "min_bn_values": 16,  # a BatchNorm normalising fewer values per channel makes the statistics
                          # after it degenerate (outputs +-1, huge gradients): those verdicts become info
}


def run(ctx: Context) -> CheckResult:
    result = ctx.result
    m = measure(ctx)
    table = layer_table(m)
    result.details["layers"] = table
    _artifacts(result, table, m.params)
    result.metrics.update(metrics(m))
    result.findings += judge(RULES, m, ctx.task, ctx.settings)
    result.summary = summary(m)
    reason = not_measured(m)
    if reason is not None:  # never "0 weight layers" and a pass: say that nothing was measured
        result.skip(reason)
    return result


def _artifacts(result: CheckResult, table: list[dict], param_rows: list[dict]) -> None:
    result.table("layers.csv", table)
    if param_rows:
        result.table("parameters.csv", param_rows)
    result.figure("layer_stats_by_depth", "activation std by depth", file="activation-std.png",
                  layers=[str(r["layer"]) for r in table], values=[r["std"] for r in table],
                  ylabel="activation std", title="init-stats: activation std by depth")
    grads = [r for r in table if r.get("grad_norm") is not None]
    if grads:
        result.figure("layer_stats_by_depth", "weight gradient norm by depth", file="grad-norm.png",
                      layers=[str(r["layer"]) for r in grads], values=[r["grad_norm"] for r in grads],
                      ylabel="weight gradient norm", title="init-stats: gradient norm by depth")

from .fixes import FIXES  # noqa: E402,F401  (the fixes --verify-fixes tries; dlcheck.fixes)
