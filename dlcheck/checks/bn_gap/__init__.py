"""Recipe step 5: BatchNorm's set-up, and the gap between its train-mode and eval-mode outputs.

Static findings come from one traced batch (forward hooks record *execution* order, which module
registration order is not): BN whose output is the model's output (DLC501), a conv/linear bias
feeding straight into BN (DLC502), ``track_running_stats=False`` (DLC503), ``momentum=0``
(DLC504), the batch size the BN layers see (DLC505/506).

The gap: training-mode passes without gradients first fill the running statistics (a fresh
model still has mean 0 / var 1). Then each compared batch (the val loader's when given) goes
through the model twice: all of it in eval mode, and with only the BN modules themselves in train
mode (not what they contain), so that dropout and stochastic depth, also a fused BN+act layer's
own drop, do not count as a gap. Outputs, loss and accuracy are compared, and each BN layer's own
gap names the layer where the two modes part (DLC507): in a hook, the module's train-mode output
against the same module run again in eval mode on the same input through its own forward
(subclasses such as timm's BatchNormAct2d, SyncBatchNorm, lazy BN compute as they do), reduced on
the device. The warmed statistics are put back after every train-mode pass and before every
eval-mode re-run, so the measurement never moves them; a layer that cannot be re-run so is named
(DLC512), not mis-measured.

Representative batches: val batches are drawn at random across the val set (seeded) when the val
loader is a DataLoader over a map-style dataset, since an unshuffled one (ImageFolder) yields
class-sorted batches whose batch statistics stand for one class. Other val loaders whose batches
are far more one-class than the training batches are not compared on (DLC511: train batches
instead). A compared batch that BN sees smaller than the training batches (a short last batch) is
left out after its eval pass, and said so exactly; only when no val batch is large enough does
the comparison fall back to train batches.

Momentum, decided: ``momentum=None`` is PyTorch's cumulative moving average, legitimate and only
noted (DLC509); ``momentum=0`` keeps the initial statistics for good, so eval mode normalises
with mean 0 / var 1: a bug (DLC504). Warm-up stands in for a long training run at fixed
weights: a layer whose EMA would not converge within the warm-up passes is switched to the
cumulative average over them (what a long run's EMA settles at); a fast EMA keeps its momentum,
and momentum 0 stays 0. Momenta are put back afterwards; ``ctx.model()`` restores the rest.
"""

from __future__ import annotations

from torch import nn

from dlcheck.checks.bn_gap.measure import Measured, _measure, _other_norms, _row
from dlcheck.checks.bn_gap.rules import (MEASURED_RULES, RULES, SETUP_RULES, _details, _metrics, _summary,
                                         no_batchnorm_reason)
from dlcheck.context import Context
from dlcheck.modules import fixed_norms, kept_in_eval, unwrap
from dlcheck.own_loss import loss_alone
from dlcheck.results import CheckResult
from dlcheck.rules import judge

__all__ = ["NAME", "SETTINGS", "run", "Measured", "RULES"]

NAME = "bn-gap"
SETTINGS = {
    "batches": 4,  # batches compared in train and eval mode (the val loader's when given)
    "warmup_batches": 8,  # training-mode passes without gradients that fill the running statistics
    "small_batch": 16,  # batch size below this: warn (DLC505)
    "tiny_batch": 2,  # batch size at or below this: fail (DLC506)
    "warn_gap": 0.4,  # a BN layer's own relative train-vs-eval gap at or above this: warn (DLC507)
    "fail_gap": 0.8,  # ... at or above this: fail (DLC507)
    "noisy_values": 64,  # a BN layer normalising fewer values per channel (batch x positions, e.g. 16 x 1x1 maps
    #                      after a network's last downsampling of small images) has batch statistics this noisy
    #                      that its gap is mostly their noise: DLC507 there warns, naming it, and never fails
    "high_momentum": 0.5,  # momentum at or above this: the Keras convention by mistake? (DLC510)
    "converged_weight": 0.05,  # initial statistics' weight left after warm-up that counts as converged
    "sorted_share": 0.5,  # val batches whose top class share is this far from the training batches'
    #                       toward 1 (one class a batch): sorted by class, not compared on (DLC511)
}


def run(ctx: Context) -> CheckResult:
    s = ctx.settings
    result = ctx.result
    with ctx.model() as handed:
        model, wrapped = unwrap(handed)  # hooks do not fire inside a compiled graph: its module runs eagerly
        held = kept_in_eval(model)  # the model runs them in eval mode in training: never warmed, never compared
        structure = {"held": held, "fixed": fixed_norms(model), "wrapped": wrapped}
        bns = {name: m for name, m in model.named_modules()
               if isinstance(m, nn.modules.batchnorm._BatchNorm) and name not in held}
        if bns and ctx.task.loss_only:
            result.summary = f"{loss_alone(ctx.target)}: no outputs to compare in train and eval mode"
            return result.skip(f"{loss_alone(ctx.target)}, no outputs to compare in train and eval mode")
        if not bns:
            measured = Measured(other_norms=_other_norms(model), **structure)
            _conclude(result, measured, ctx.task, s)
            return result.skip(no_batchnorm_reason(measured))
        kinds = {name: type(m).__name__ for name, m in bns.items()}  # a lazy BN becomes a plain one when run
        setup = Measured(layers=[_row(name, m, kinds[name]) for name, m in bns.items()])
        result.findings += judge(SETUP_RULES, setup, ctx.task, s)  # said before anything runs
        momenta = {name: m.momentum for name, m in bns.items()}
        try:
            measured = _measure(ctx, model, bns, s)
        finally:
            for name, m in bns.items():
                m.momentum = momenta[name]
        measured.layers = [_row(name, m, kinds[name]) for name, m in bns.items()]
        measured.held, measured.fixed, measured.wrapped = held, structure["fixed"], wrapped
    _conclude(result, measured, ctx.task, s, MEASURED_RULES)
    if measured.compared is not None:
        _write_artifacts(result, measured.table)
    return result


def _conclude(result: CheckResult, measured: Measured, task, s, rules=None) -> None:
    """Summary, metrics, details and findings: functions of the measured data."""
    result.summary = _summary(measured)
    result.metrics.update(_metrics(measured, s))
    result.details.update(_details(measured))
    result.findings += judge(rules or RULES, measured, task, s)


def _write_artifacts(result: CheckResult, table: list[dict]) -> None:
    result.table("layers.csv", table)
    if any(isinstance(r.get("gap"), (int, float)) for r in table):
        result.figure("bn_layer_gaps", "each BatchNorm layer's own train-vs-eval gap", file="layers.png",
                      names=[str(r["name"]) for r in table], gaps=[r["gap"] for r in table])

from .fixes import FIXES  # noqa: E402,F401  (the fixes --verify-fixes tries; dlcheck.fixes)
