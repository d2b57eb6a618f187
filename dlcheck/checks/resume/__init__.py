"""Resume: training continues exactly after a checkpoint is saved and loaded.

Run A trains k steps from the seeded init, saves a checkpoint and trains m more. Run B builds a
fresh model and optimizer with the target's factories (under another seed, as a new process
would), loads the checkpoint and trains m steps on exactly A's batches (the state part): on the CPU
a correct resume is exact (on CUDA within ``cuda_rtol``). The first step where B differs is named
with its cause where it can be told apart: tensors of the model missing from its ``state_dict``
or not loaded (DLC962), the optimizer's state (DLC963), the LR (DLC964), the RNG behind dropout
(DLC965); a checkpoint that cannot be restored is DLC961.

The checkpoint is the target's own ``save_checkpoint``/``load_checkpoint`` when it defines them,
else dlcheck's default (model, optimizer and scheduler ``state_dict``s, the RNG states; loaded with
``weights_only=True``), in a temporary directory that is removed.

The data part rebuilds the train loader with the target's factory, positioned as a plain resume
positions it (read from its start, the RNG as it was at step k), and compares its batches with A's
by hash: k is the end of the first epoch when an epoch has at most ``epoch_steps`` batches (a
rebuilt loader should read the next epoch's order; DLC968 when it repeats the first's), else a
mid-epoch step (a plain DataLoader starts the epoch over: DLC967).
"""

from __future__ import annotations

from dlcheck.context import Context
from dlcheck.results import CheckResult
from dlcheck.rules import judge

from . import frameworks
from .measure import Measured, measure
from .rules import (RULES, diverges, epoch_repeats, lr_differs, metrics, not_loadable, optimizer_state,
                    rng_not_restored, state_missing, stream_restarts, summary)

NAME = "resume"
SETTINGS = {
    "steps": 2,  # k: steps before the checkpoint when an epoch is longer than epoch_steps
    "resume_steps": 3,  # m: steps compared after the checkpoint
    "epoch_steps": 32,  # an epoch of at most this many batches: the checkpoint is taken at its end
    "cuda_rtol": 1e-4,  # on CUDA: relative tolerance of the comparison (on the CPU it is exact)
    "names_shown": 6,  # tensor names a message lists before "and N more"
    "fresh_process": False,  # run B in a new Python process that imports the target anew
}

__all__ = ["NAME", "SETTINGS", "RULES", "Measured", "measure", "run", "metrics", "summary", "not_loadable",
           "state_missing", "optimizer_state", "lr_differs", "rng_not_restored", "diverges", "stream_restarts",
           "epoch_repeats"]


def run(ctx: Context) -> CheckResult:
    result = ctx.result
    m = frameworks.measure(ctx) if frameworks.kind(ctx.target) else measure(ctx)  # Lightning's / HF's own
    result.metrics.update(metrics(m))
    result.findings += judge(RULES, m, ctx.task, ctx.settings)
    frameworks.annotate(m, result.findings)
    result.summary = summary(m)
    if m.skipped:
        result.skip(m.skipped)
    return result
