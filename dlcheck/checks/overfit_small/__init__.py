"""Recipe step 2: a few batches, kept on the device, must be memorised: the loss down to the task's
floor (0 for hard labels and regression; the smoothed targets' entropy under label smoothing)
and, where accuracy applies, ~100 % training accuracy (per position for dense outputs). When they
are not, say why: divergence, a loss that never falls, outputs that are already probabilities,
parameters that never change, a loss still falling when the budget ran out (not converged: a
warning with the rate), or a stall (flat within its own noise, far above the floor).

Where the floor is unknown (task `other`: InfoNCE, a VAE's ELBO, any custom loss) nothing assumes
0: memorised is a clear fall that levels off within its noise, and a loss that keeps falling
towards -inf is unbounded (DLC210, a sign error typically): course.py.

The check measures into :class:`Measured` (measure.py, record.py); one small pure rule per finding
code judges it (rules.py).
"""

from __future__ import annotations

from dlcheck.checks.overfit_small.measure import Measured, measure
from dlcheck.checks.overfit_small.record import Trend
from dlcheck.checks.overfit_small.rules import RULES, metrics, nothing_to_learn, summary
from dlcheck.context import Context
from dlcheck.results import CheckResult
from dlcheck.rules import judge
from dlcheck.training.step import skipped_note

__all__ = ["NAME", "SETTINGS", "RULES", "Measured", "Trend", "run"]


NAME = "overfit-small"
SETTINGS = {
    "batches": 5,  # the tiny subset, in batches of the train loader
    "batch_size": None,  # cut the subset into batches of this size instead of the loader's
    "max_steps": 500,  # optimizer steps before giving up
    "target_accuracy": 0.99,  # training accuracy that counts as memorised (where accuracy applies)
    "fit_fraction": 0.05,  # with accuracy: memorised when (loss - floor) <= this x (expected - floor)
    "regression_fraction": 0.01,  # without accuracy: ... <= this x (expected - floor), or x the initial loss
    "near_zero_loss": None,  # optional absolute ceiling on (loss - floor) for memorised (old recipes)
    "flat_fraction": 0.9,  # (final - floor) above this x (initial - floor): the loss never fell (DLC201)
    "frozen_fraction": 0.5,  # share of parameter elements that never changed: DLC204
    "slow_steps": 400,  # fit, but only after more steps than this: DLC206 (a warning for hard labels, else a note)
    "extend_factor": 2.0,  # still clearly falling at max_steps, on course to fit within this x max_steps: go on
    "trend_window": 0.25,  # share of the run's passes the end-of-run trend is measured on
    "trend_window_wide": 0.5,  # ... and where that window fell by min_progress within its noise (a transient
    #                            bump in it), the share read again: clearly falling there, still falling
    "trend_t": 3.0,  # slope this many standard errors below 0: still falling (DLC209), not stalled
    "min_progress": 0.02,  # ... and falling by at least this share of its excess over the window
    "chunk": 20,  # steps between host synchronisations
    # without a known floor (task `other`): judged by the loss's own course (course.py)
    "clear_fall": 0.25,  # memorised: fell by this share of its start's magnitude, then levelled off
    "vanished_fall": 0.98,  # ... or, for a loss that stays >= 0, fell by this share of its start
    "level_min_steps": 250,  # ... judged from this step on (and at the end of the budget)
    "unbounded_factor": 100.0,  # unbounded (DLC210): below -this x its start's magnitude, or -inf ...
    "unbounded_fall": 0.25,  # ... or below 0 at the end, still falling by this share of its whole fall
}



def run(ctx: Context) -> CheckResult:
    result = ctx.result
    task = ctx.task
    if task.problem:
        result.summary = f"nothing to learn: {task.problem}"
        result.findings += judge((nothing_to_learn,), None, task, ctx.settings)
        return result
    m = measure(ctx, task)
    result.metrics.update(metrics(m))
    if m.amp_skipped is not None:  # under a GradScaler: the steps it skipped, left out of the curve
        result.metrics["amp_skipped_steps"] = m.amp_skipped
    _write_curve(ctx, m.curve)
    result.findings += judge(RULES, m, task, ctx.settings)
    result.summary = summary(m, ctx.settings) + skipped_note(m.amp_skipped, m.run_steps)
    return result


def _write_curve(ctx: Context, curve: list[float]) -> None:
    ctx.result.table("loss.csv", [{"step": i + 1, "loss": v} for i, v in enumerate(curve)])
    title = "overfit-small: training loss on the tiny subset"
    ctx.result.figure("loss_curve", title, file="loss.png", losses=curve, title=title)

from .fixes import FIXES  # noqa: E402,F401  (the fixes --verify-fixes tries; dlcheck.fixes)
