"""Recipe step 6: look at what the augmentation pipeline makes of the data. Keeps an image grid
(each source image beside K augmented draws, un-normalised for display) and measures the draws:
value range and per-channel mean/std (normalised?), Normalize applied twice, and the share of
draws that are blank or no longer resemble their original. For segmentation-style data (targets
with the input's height and width) it draws the same samples again through the dataset and
checks that each mask follows its image's flips and crops (dense.py), with the mask overlaid on
each draw in a second grid. Needs no model.

``measure`` fills :class:`Measured` (how damage is judged: measure.py); one small rule per finding
code judges it (rules.py).
"""

from __future__ import annotations

from dlcheck.context import Context
from dlcheck.results import CheckResult
from dlcheck.rules import judge

from .measure import Measured, Step, measure
from .rules import (RULES, blank, destroyed, double_normalise, mask_mismatch, metrics, no_transform,
                    output_scale, summary)
from .sources import _caption

NAME = "aug-preview"
SETTINGS = {
    "count": 16,  # source images shown in the grid
    "measure": 48,  # source images measured (at least count): the grid shows the first count
    "draws": 7,  # augmented draws per source image
    "cell_px": 64,  # grid cell size in pixels (images are scaled to fit)
    "max_rows": 25,  # source rows per grid panel; more sources wrap into side-by-side panels
    "similar_min": 0.2,  # best thumbnail correlation with the original below this: destroyed
    "constant_gain": 0.5,  # ... or the largest one-value region grew by more than this share
    "structure_min": 0.03,  # originals with less thumbnail contrast (0..1 units) are not judged
    "blank_std": 0.02,  # a draw whose per-channel std (0..1 units) is below this ...
    "blank_ratio": 0.2,  # ... and below this share of its original's is blank
    "destroyed_warn": 0.1,  # share of judged draws destroyed: DLC602 warn ...
    "destroyed_fail": 0.3,  # ... and fail
    "blank_warn": 0.05,  # share of judged draws blank: DLC603 warn ...
    "blank_fail": 0.3,  # ... and fail
    "max_abs_mean": 1.0,  # output per-channel |mean| above this: not centred (DLC604)
    "std_low": 0.05,  # output per-channel std outside [std_low, std_high]: not scaled (DLC604)
    "std_high": 3.0,
    "raw_max": 20.0,  # output |values| above this: raw pixel values (DLC604)
    "mask_samples": 16,  # segmentation-style samples drawn again through the dataset (DLC607)
    "mask_draws": 6,  # draws per such sample
    "mask_structure_min": 0.05,  # masks with less thumbnail contrast (one value nearly everywhere): not judged
    "mask_gap": 0.3,  # no one crop explains both image and mask within this correlation: a mismatch
    "mask_fail": 0.1,  # share of judged draws whose mask does not follow the image: DLC607
}

__all__ = ["NAME", "SETTINGS", "RULES", "Measured", "Step", "measure", "run", "metrics", "summary", "_caption",
           "no_transform", "destroyed", "blank", "double_normalise", "output_scale", "mask_mismatch"]


def run(ctx: Context) -> CheckResult:
    result = ctx.result
    m = measure(ctx)
    if m.where is None:
        result.summary = summary(m)
        result.findings += judge(RULES, m, ctx.task, ctx.settings)
        return result.skip("no train_transform in the target and no transform on the train dataset")
    if m.unpreviewable:
        result.summary = f"{m.where}: nothing to preview"
        return result.skip(m.unpreviewable)
    result.details["steps"] = m.details
    result.metrics.update(metrics(m))
    result.findings += judge(RULES, m, ctx.task, ctx.settings)
    result.summary = summary(m)
    return result
