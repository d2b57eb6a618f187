"""Recipe step 3: the LR range test. Train from the initial weights while the learning rate grows
exponentially (or linearly) from ``start_lr`` to ``end_lr``, stop once the loss diverges, and
read suggestions off the smoothed curve by more than one rule. The probe: short trainings from
the same init at fixed candidate learning rates, and which one makes the loss fall most.

Every loss is judged against the loss at init (the mean of the sweep's first steps, where the LR
is too small to train), its batch-to-batch noise, and the task's floor (0 for hard labels and
regression, the smoothed targets' entropy under label smoothing): "the loss fell" means the same
share of the way down on every task. A sweep that shows no fall is not yet a dead model: a model
that plateaus before it learns (a recurrent net at ln C) passes a 100-step sweep by, so the probe
runs before the verdict, and DLC301 fails only when nothing falls there either. The LR judged is
the one the user's optimizer factory really sets (``ctx.effective_lr``).

The check measures into :class:`Evidence` (measure.py; the suggestions are read in suggest.py);
one small pure rule per finding code judges it (rules.py).
"""

from __future__ import annotations

from dlcheck.checks.lr_find.measure import Evidence, Measured, measure, schedule
from dlcheck.checks.lr_find.rules import RULES, WORLD_POWERS, details, metrics, summary
from dlcheck.checks.lr_find.suggest import BLEND, primary, suggestions
from dlcheck.context import Context
from dlcheck.errors import UserError
from dlcheck.lr_rules import Curve
from dlcheck.results import CheckResult
from dlcheck.rules import judge
from dlcheck.training.step import skipped_note

__all__ = ["NAME", "SETTINGS", "RULES", "BLEND", "WORLD_POWERS", "Evidence", "Measured", "run", "schedule",
           "primary", "suggestions"]

NAME = "lr-find"
SETTINGS = {
    "start_lr": 1e-7,
    "end_lr": 10.0,
    "steps": 100,  # steps of the sweep
    "linear": False,  # linear instead of exponential spacing
    "beta": 0.9,  # EMA smoothing of the loss (bias-corrected)
    "diverge_factor": 4.0,  # stop when the smoothed loss, measured from the floor, exceeds this x the best so far
    "min_points": 15,  # fewer usable points than this: the curve is unusable (DLC305)
    "noise_steps": 10,  # the sweep's first steps (LR still too small to train): the loss at init and its noise
    "noise_z": 3.0,  # a fall counts only when it is more than this many standard errors of that noise
    "min_fall": 0.05,  # "the loss fell": by at least this share of the way from init to the floor (DLC301/306)
    "onset_fall": 0.02,  # the rules read the curve only from where it is this share (and beyond noise) below init
    "slow_fall": 0.10,  # your LR trains when probe_steps steps at it bring the loss this share of the way down (else DLC303)
    "far_below": 10.0,  # the LR this many times below the suggestion: checked by a short run at it (DLC303)
    "plain_sgd_factor": 2.5,  # SGD without momentum: the blend x this, at most the sweep's lowest point's LR
    #                           (its best fixed LR sits nearer the edge of stability: benchmarks/lr_quality.py)
    "disagree": 10.0,  # rules further apart than this factor: DLC304
    "chunk": 10,  # steps between host synchronisations
    "probe": False,  # also run the probe when the sweep did show a fall (recipe step 3)
    "auto_probe": True,  # run the probe before failing a sweep that shows no fall (plateau or dead model?)
    "probe_lrs": [1e-1, 1e-2, 1e-3, 1e-4],
    "probe_steps": 100,
    "probe_up": 2,  # after a sweep without a fall, decades tried above probe_lrs while the best run is the highest
}



def run(ctx: Context) -> CheckResult:
    s = ctx.settings
    steps = int(s["steps"])
    if steps < 3 or int(s["probe_steps"]) < 1 or not 0 < float(s["start_lr"]) < float(s["end_lr"]):
        raise UserError(f"lr-find needs steps >= 3, probe_steps >= 1 and 0 < start_lr < end_lr, got "
                        f"steps={steps}, probe_steps={s['probe_steps']}, start_lr={s['start_lr']:g}, "
                        f"end_lr={s['end_lr']:g}")
    if ctx.task.problem:  # a loss that cannot fall has no learning rate (init-loss, overfit-small fail)
        return ctx.result.skip(f"nothing to sweep: {ctx.task.problem}")
    ev = measure(ctx)
    result = ctx.result
    result.metrics.update(metrics(ev, s))
    result.details.update(details(ev, s))
    if ev.amp_skipped is not None:  # under a GradScaler: the steps it skipped, left out of the curve
        result.metrics["amp_skipped_steps"] = ev.amp_skipped
    if ev.amp_skipped_runs is not None:
        result.metrics["amp_skipped_run_steps"] = ev.amp_skipped_runs
    if ev.cut:  # a part of the range says nothing of the rest: the partial curve, DLC003, no verdict
        c = ev.curve
        result.summary = (f"not judged: the time budget ended the sweep at lr {c.lrs[-1]:.3g} after "
                          f"{len(c.losses)} of {steps} steps" if len(c.losses) else "not judged: the time "
                          f"budget ended the sweep before its first step")
    else:
        result.findings += judge(RULES, ev, ctx.task, s)
        result.summary = summary(ev, s)
    result.summary += skipped_note(ev.amp_skipped, ev.amp_run, "steps of the sweep")
    _write_curve(ctx, ev.curve)
    return result


def _write_curve(ctx: Context, c: Curve) -> None:
    ctx.result.table("curve.csv", [{"step": i + 1, "lr": lr, "loss": loss, "smoothed": sm}
                                   for i, (lr, loss, sm) in enumerate(zip(c.lrs, c.losses, c.smoothed))])
    m = ctx.result.metrics
    marks = {k[:-3]: m[k] for k in ("steepest_lr", "valley_lr", "minimum/10_lr", "suggested_lr") if m.get(k)}
    data = dict(lrs=list(c.lrs), losses=list(c.losses), smoothed=list(c.smoothed), marks=marks,
                configured=m.get("effective_lr") or ctx.lr, diverge=m.get("diverge_lr"))
    ctx.result.figure("lr_curve", "LR range test", file="curve.png", **data)

from .fixes import FIXES  # noqa: E402,F401  (the fixes --verify-fixes tries; dlcheck.fixes)
