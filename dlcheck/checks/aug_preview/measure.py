"""aug-preview's measuring: each source image through the train transform ``draws`` times, step by
step, into :class:`Measured` (per-step and output statistics, the damage counts) and the grid
kept on the result as data. Needs no model.

How "no longer resembles" is judged (calibrated on scikit-learn's sample photos): both images go
to display space (0..1) and to 8x8 blurred thumbnails; the draw's thumbnail is correlated with
thumbnails of many crops of the original (4 scales x 9 positions x 3 small rotations x a
horizontal flip), so flips, crops, shifts and colour jitter keep a high best correlation while
erased or scrambled draws do not. A draw also counts as destroyed when its largest one-value
region grew by more than half the image (erasing, padding, clipping to black).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch

from dlcheck.context import Context
from dlcheck.device import seed_everything
from dlcheck.errors import UserError, describe_exception

from .dense import geometric_steps, measure_dense
from .images import (_as_image, _candidate_thetas, _display, _mode_fraction, _similarity, _StepStats,
                     _tensor_or_none, _thumbs, _unnormalise)
from .sources import SeveralInputs, _caption, _class_names, _find_transform, _raw_sources


@dataclass
class Step:
    """One step of the pipeline as the rules see it: its name and its outputs' statistics."""

    name: str  # its repr, shortened to 60 characters
    normalize: bool = False  # a Normalize step
    mean: list[float] = field(default_factory=list)  # per channel, [] when no output was an image
    std: list[float] = field(default_factory=list)
    lo: float = math.inf  # the lowest output value


@dataclass
class Measured:
    """What aug-preview measured; the rules read only this."""

    where: str | None = None  # where the transform came from; None: no transform found
    steps: list[Step] = field(default_factory=list)
    details: list[dict] = field(default_factory=list)  # the per-step table (details["steps"])
    images: int = 0  # source images measured
    shown: int = 0  # source rows in the grid
    draws: int = 0  # augmented draws per source image
    judged: int = 0  # draws of structured originals (judged for damage)
    destroyed: int = 0
    blank: int = 0
    flat_sources: int = 0  # originals too flat to judge
    output: str | None = None  # the final output's kind ("float 3x32x32")
    lo: float = math.inf  # the final outputs' value range
    hi: float = -math.inf
    means: list[float] = field(default_factory=list)  # the final outputs' per-channel mean and std
    stds: list[float] = field(default_factory=list)
    grid: str | None = None  # the grid's path under --out
    unpreviewable: str | None = None  # why the samples cannot be previewed (the check is skipped)
    # dense targets (dense.py): draws of segmentation-style samples through the dataset itself
    mask_judged: int = 0  # draws whose mask was compared with their image
    mask_mismatched: int = 0  # ... whose mask does not follow the image
    mask_still: int = 0  # ... of which the mask stayed as it was while the image moved
    mask_resized: int = 0  # ... of which image and mask came out with different sizes
    mask_examples: list[str] = field(default_factory=list)  # sample indices with a mismatched draw
    mask_steps: list[str] = field(default_factory=list)  # the pipeline's steps that move pixels
    mask_samples: int = 0  # rows in the mask grid
    mask_note: str | None = None  # why segmentation-style samples were not judged
    mask_grid: str | None = None  # the mask grid's path under --out

    @property
    def destroyed_fraction(self) -> float | None:
        return self.destroyed / self.judged if self.judged else None

    @property
    def blank_fraction(self) -> float | None:
        return self.blank / self.judged if self.judged else None

    @property
    def mask_fraction(self) -> float | None:
        return self.mask_mismatched / self.mask_judged if self.mask_judged else None

    @property
    def has_normalize(self) -> bool:
        return any(st.normalize for st in self.steps)


def measure(ctx: Context) -> Measured:
    s = ctx.settings
    transform, where, joint = _find_transform(ctx)
    if transform is None:
        return Measured()
    steps = _flatten(transform)
    count = max(1, int(s["count"]))
    try:
        sources = _raw_sources(ctx, max(count, int(s["measure"])))
    except SeveralInputs as exc:
        return Measured(where=where, unpreviewable=str(exc))
    m = Measured(where=where, draws=max(1, int(s["draws"])))
    normalizers = [st for st in steps if _is_normalize(st)]

    class_names = _class_names(ctx)
    seed_everything(ctx.seed)  # torchvision draws from the global torch RNG
    stats = [_StepStats() for _ in steps]
    final = _StepStats()
    rows, captions, marks = [], [], []
    thetas = _candidate_thetas()
    for src in sources:
        m.images += 1
        row, mark = _draw_row(s, m, src, (steps, where, stats, final, normalizers, joint), thetas)
        if len(rows) < count:
            rows.append(row)
            marks.append(mark)
            captions.append(_caption(src, class_names))
        if ctx.out_of_time():
            break

    m.details = [dict(step=i + 1, name=_short(st), **stats[i].row()) for i, st in enumerate(steps)]
    m.steps = [Step(_short(st, 60), _is_normalize(st), *stats[i].channel_stats(), stats[i].lo)
               for i, st in enumerate(steps)]
    m.means, m.stds = final.channel_stats()
    m.output, m.lo, m.hi, m.shown = final.kind, final.lo, final.hi, len(rows)
    m.grid = _keep_grid(ctx, rows, captions, marks)
    m.mask_steps = geometric_steps(steps, _short)
    measure_dense(ctx, m, sources, normalizers)
    return m


def _draw_row(s, m: Measured, src: dict, pipeline: tuple, thetas: torch.Tensor) -> tuple[list, list]:
    """``m.draws`` augmented draws of one source, judged for damage (counted into ``m``): the
    grid row (the original first) and each cell's mark."""
    steps, where, stats, final, normalizers, joint = pipeline
    original, scale = _as_image(src["x"])
    o_disp = _display(original, scale, None)
    cands, energy = _thumbs(o_disp, thetas)
    structured = float(energy[0]) >= s["structure_min"]  # flat originals: no shape to compare
    o_std = float(o_disp.std(dim=(1, 2)).max())
    m.flat_sources += not structured
    o_mode = _mode_fraction(original) if structured else 0.0
    row, mark = [o_disp], [None]
    for _ in range(m.draws):
        out = _apply(steps, src, where, stats, joint)
        x, x_scale = _as_image(out)
        final.add(x, None)
        shown = _display(_unnormalise(x, normalizers), x_scale, (original, scale))
        row.append(shown)
        flag = None
        if structured:  # flat originals (sky, shadow) have no shape to lose: not judged
            m.judged += 1
            spread = float(shown.std(dim=(1, 2)).max())
            if spread < s["blank_std"] and spread < s["blank_ratio"] * o_std:
                flag = "blank"
            elif _mode_fraction(x) - o_mode > s["constant_gain"] or \
                    _similarity(o_disp, cands, shown, thetas) < s["similar_min"]:
                flag = "destroyed"
        m.blank += flag == "blank"
        m.destroyed += flag == "destroyed"
        mark.append(flag)
    return row, mark


# -- the pipeline, step by step -----------------------------------------------------------------
def _flatten(transform) -> list:
    """The steps of (nested) torchvision Compose pipelines, in order; anything else is one step.
    Calling the steps in turn is exactly what Compose does, so per-step statistics come for free."""
    inner = getattr(transform, "transforms", None)
    if type(transform).__name__ == "Compose" and type(transform).__module__.startswith("torchvision") \
            and isinstance(inner, (list, tuple)):
        return [step for t in inner for step in _flatten(t)]
    return [transform]


def _is_normalize(step) -> bool:
    return type(step).__name__ == "Normalize" and hasattr(step, "mean") and hasattr(step, "std")


def _short(step, limit: int = 70) -> str:
    text = " ".join(repr(step).split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _apply(steps: list, src: dict, where: str, stats: list, joint: bool = False) -> Any:
    """One augmented draw of ``src``, step by step, recording each step's output statistics. A
    joint transform takes the image and its target together and hands both on; its output's image
    is what is recorded and returned."""
    x, target = src["x"], src.get("target")
    for i, step in enumerate(steps):
        try:
            y = step(x, target) if joint else step(x)
        except Exception as exc:
            what = f"step {i + 1} ({_short(step, 50)}) of {where}" if len(steps) > 1 else where
            raise UserError(f"the train transform, {what}, raised {describe_exception(exc)} "
                            f"on sample {src['index']}") from exc
        if joint and isinstance(y, (tuple, list)) and len(y) == 2:
            y, target = y
        stats[i].add(*_tensor_or_none(y), before=x)
        x = y
    return x


def _keep_grid(ctx: Context, rows, captions, marks) -> str | None:
    """Keep the grid on the result as data (written to ``--out`` as grid.png, embedded by
    ``--html``); the path it will have under ``--out``, or None."""
    if not rows:
        return None
    images = [[cell.permute(1, 2, 0).numpy() for cell in row] for row in rows]
    ctx.result.figure("aug_grid", "each source image (framed blue) beside its augmented draws; "
                                  "destroyed draws framed red, blank ones orange", file="grid.png",
                      rows=images, captions=captions, marks=marks, cell=int(ctx.settings["cell_px"]),
                      max_rows=int(ctx.settings["max_rows"]))
    path = ctx.artifact_path("grid.png")
    return str(path) if path is not None else None
