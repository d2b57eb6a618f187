"""Recipe step 6: look at what the augmentation pipeline makes of the data. Writes an image grid
(each source image beside K augmented draws, un-normalised for display) and measures the draws:
value range and per-channel mean/std (normalised?), Normalize applied twice, and the share of
draws that are blank or no longer resemble their original. Needs no model.

How "no longer resembles" is judged (calibrated on scikit-learn's sample photos): both images go
to display space (0..1) and to 8x8 blurred thumbnails; the draw's thumbnail is correlated with
thumbnails of many crops of the original (4 scales x 9 positions x 3 small rotations x a
horizontal flip), so flips, crops, shifts and colour jitter keep a high best correlation while
erased or scrambled draws do not. A draw also counts as destroyed when its largest one-value
region grew by more than half the image (erasing, padding, clipping to black).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from dlcheck.batches import dict_keys
from dlcheck.context import Context
from dlcheck.device import seed_everything
from dlcheck.errors import UserError, describe_exception
from dlcheck.results import CheckResult, rounded

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
}


def _identity(x):
    return x


def run(ctx: Context) -> CheckResult:
    s = ctx.settings
    result = ctx.result
    transform, where = _find_transform(ctx)
    if transform is None:
        result.summary = "no train transform found: nothing to preview"
        result.add("DLC601", "no train_transform in the target and no transform on the train dataset "
                             "(tensor datasets usually have none)")
        return result.skip("no train_transform in the target and no transform on the train dataset")
    steps = _flatten(transform)
    count = max(1, int(s["count"]))
    sources = _raw_sources(ctx, max(count, int(s["measure"])))
    draws = max(1, int(s["draws"]))
    normalizers = [st for st in steps if _is_normalize(st)]

    class_names = _class_names(ctx)
    seed_everything(ctx.seed)  # torchvision draws from the global torch RNG
    stats = [_StepStats() for _ in steps]
    final = _StepStats()
    rows, captions, marks = [], [], []
    judged = destroyed = blank = flat_sources = 0
    thetas = _candidate_thetas()
    measured = 0
    for src in sources:
        measured += 1
        original, scale = _as_image(src["x"])
        o_disp = _display(original, scale, None)
        cands, energy = _thumbs(o_disp, thetas)
        structured = float(energy[0]) >= s["structure_min"]  # flat originals: no shape to compare
        o_std = float(o_disp.std(dim=(1, 2)).max())
        flat_sources += not structured
        o_mode = _mode_fraction(original) if structured else 0.0
        row, mark = [o_disp], [None]
        for _ in range(draws):
            out = _apply(steps, src, where, stats)
            x, x_scale = _as_image(out)
            final.add(x, None)
            shown = _display(_unnormalise(x, normalizers), x_scale, (original, scale))
            row.append(shown)
            flag = None
            if structured:  # flat originals (sky, shadow) have no shape to lose: not judged
                judged += 1
                spread = float(shown.std(dim=(1, 2)).max())
                if spread < s["blank_std"] and spread < s["blank_ratio"] * o_std:
                    flag = "blank"
                elif _mode_fraction(x) - o_mode > s["constant_gain"] or \
                        _similarity(o_disp, cands, shown, thetas) < s["similar_min"]:
                    flag = "destroyed"
            blank += flag == "blank"
            destroyed += flag == "destroyed"
            mark.append(flag)
        if len(rows) < count:
            rows.append(row)
            marks.append(mark)
            captions.append(_caption(src, class_names))
        if ctx.out_of_time():
            break

    result.details["steps"] = [dict(step=i + 1, name=_short(st), **stats[i].row()) for i, st in enumerate(steps)]
    channels = final.channel_stats()
    destroyed_frac = destroyed / judged if judged else None
    blank_frac = blank / judged if judged else None
    grid = _write_grid(ctx, rows, captions, marks)
    result.metrics.update({
        "transform_from": where, "steps": len(steps), "normalize_steps": len(normalizers),
        "images": measured, "shown": len(rows), "draws": draws, "judged_draws": judged, "flat_sources": flat_sources,
        "destroyed_fraction": rounded(destroyed_frac), "blank_fraction": rounded(blank_frac),
        "output": final.kind, "min": rounded(final.lo), "max": rounded(final.hi),
        "mean": [rounded(m) for m in channels[0]], "std": [rounded(v) for v in channels[1]],
    })
    if grid:
        result.metrics["grid"] = grid

    _judge_damage(result, s, destroyed_frac, blank_frac, judged, destroyed, blank)
    double = _judge_double_normalise(result, steps, stats)
    if not double:
        _judge_scale(result, s, final, channels, bool(normalizers))
    means = ", ".join(f"{m:.2f}" for m in channels[0])
    stds = ", ".join(f"{v:.2f}" for v in channels[1])
    damage = (f"{destroyed_frac:.0%} destroyed, {blank_frac:.0%} blank" if judged
              else "sources too flat to judge damage")
    result.summary = (f"{measured} images x {draws} draws through {len(steps)} steps: {damage}; output "
                      f"range [{final.lo:.3g}, {final.hi:.3g}], mean ({means}), std ({stds})"
                      + (f"; grid: {grid}" if grid else ""))
    return result


# -- finding the pipeline and the raw samples ---------------------------------------------------
def _datasets(dataset, path: str):
    """The dataset and every dataset inside Subset / ConcatDataset wrappers, with access paths."""
    if dataset is None:
        return
    yield dataset, path
    inner = getattr(dataset, "dataset", None)
    if inner is not None and inner is not dataset:
        yield from _datasets(inner, path + ".dataset")
    for i, part in enumerate(getattr(dataset, "datasets", None) or []):
        yield from _datasets(part, f"{path}.datasets[{i}]")


def _find_transform(ctx: Context):
    """The target's ``train_transform``, else the first ``transform`` on the train dataset."""
    if ctx.target.train_transform is not None:
        return ctx.target.train_transform, ctx.target.where("train_transform")
    loader = ctx.loader("train")
    for ds, path in _datasets(getattr(loader, "dataset", None), "train_loader.dataset"):
        transform = getattr(ds, "transform", None)
        if transform is not None and callable(transform):
            return transform, f"{path}.transform"
    return None, None


def _raw_sources(ctx: Context, count: int) -> list[dict]:
    """``count`` samples before the transform: ``dataset[i]`` with every dataset's transform swapped
    for the identity (put back in ``finally``), or the loader's first batches without a dataset."""
    dataset = getattr(ctx.loader("train"), "dataset", None)
    if dataset is None or not hasattr(dataset, "__getitem__") or not hasattr(dataset, "__len__"):
        inputs = []
        ctx.raw_batches(1)  # a clear error for a loader that is empty or not iterable
        for i, batch in enumerate(ctx.loader("train")):  # batches until there are enough samples
            x, y = ctx.split(batch, i)
            inputs += [{"index": len(inputs) + j, "x": x[j], "label": _label(y[j] if y is not None else None)}
                       for j in range(len(x))]
            if len(inputs) >= count:
                break
        return inputs[:count]
    n = len(dataset)
    if n == 0:
        raise UserError(f"{ctx.target.where('train_loader')} has an empty dataset")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(ctx.seed))[:count].tolist()
    swapped = []  # (dataset, its transform): put back in finally, also on error and Ctrl-C
    try:
        for ds, path in _datasets(dataset, "train_loader.dataset"):
            saved = getattr(ds, "transform", None)
            if saved is not None:
                try:
                    ds.transform = _identity
                except AttributeError:
                    raise UserError(f"{path}.transform cannot be switched off to read raw samples") from None
                swapped.append((ds, saved))
        sources = []
        for i in order:
            try:
                item = dataset[i]
            except Exception as exc:
                raise UserError(f"{ctx.target.where('train_loader')}'s dataset raised "
                                f"{describe_exception(exc)} on sample {i}") from exc
            x, y = _split_item(item, ctx)
            sources.append({"index": i, "x": x, "label": _label(y)})
        return sources
    finally:
        for ds, saved in reversed(swapped):
            ds.transform = saved


def _split_item(item, ctx: Context):
    if isinstance(item, (tuple, list)):
        return item[0], (item[1] if len(item) > 1 else None)
    if isinstance(item, dict):
        ikey, tkey = dict_keys(item, ctx.input_key, ctx.target_key)
        if ikey is None:
            raise UserError(f"{ctx.target.where('train_loader')}'s dataset yields dicts with keys "
                            f"{sorted(map(str, item))}; set input_key in the recipe")
        return item[ikey], item.get(tkey)
    return item, None


def _class_names(ctx: Context) -> list[str] | None:
    """``dataset.classes`` (torchvision's datasets, ImageFolder) of the train dataset or of a
    dataset inside its wrappers, when it is a list of names."""
    for ds, _ in _datasets(getattr(ctx.loader("train"), "dataset", None), "train_loader.dataset"):
        names = getattr(ds, "classes", None)
        if isinstance(names, (list, tuple)) and names and all(isinstance(n, str) for n in names):
            return list(names)
    return None


def _caption(src: dict, class_names: list[str] | None) -> str:
    """``#44 airplane`` (the sample index and its class name), ``#44 class 3`` without names."""
    label = src["label"]
    if label is None:
        return f"#{src['index']}"
    if class_names is not None and label.lstrip("-").isdigit() and 0 <= int(label) < len(class_names):
        return f"#{src['index']} {class_names[int(label)]}"
    return f"#{src['index']} class {label}" if label.lstrip("-").isdigit() else f"#{src['index']} {label}"


def _label(y) -> str | None:
    """A caption for a scalar label, else None."""
    if isinstance(y, (int, np.integer, str)):
        return str(y)
    if isinstance(y, torch.Tensor) and y.numel() == 1:
        v = y.item()
        return str(int(v)) if float(v).is_integer() else f"{v:.3g}"
    if isinstance(y, (float, np.floating)):
        return f"{y:.3g}"
    return None


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


def _apply(steps: list, src: dict, where: str, stats: list) -> Any:
    """One augmented draw of ``src``, step by step, recording each step's output statistics."""
    x = src["x"]
    for i, step in enumerate(steps):
        try:
            y = step(x)
        except Exception as exc:
            what = f"step {i + 1} ({_short(step, 50)}) of {where}" if len(steps) > 1 else where
            raise UserError(f"the train transform, {what}, raised {describe_exception(exc)} "
                            f"on sample {src['index']}") from exc
        stats[i].add(*_tensor_or_none(y), before=x)
        x = y
    return x


def _tensor_or_none(x):
    try:
        return _as_image(x)
    except UserError:
        return None, None


def _as_image(x) -> tuple[torch.Tensor, float]:
    """A CxHxW float tensor on the CPU, and the value scale of its source (255 for PIL / uint8)."""
    if isinstance(x, (tuple, list)) and x and not isinstance(x[0], (int, float)):
        x = x[0]  # multi-view pipelines (e.g. two crops): the first view stands for the rest
    if isinstance(x, torch.Tensor):
        t = x.detach().cpu()
        scale = 255.0 if t.dtype == torch.uint8 else 1.0
        t = t.float()
    elif hasattr(x, "getbands") and hasattr(x, "size"):  # a PIL image, without importing PIL
        a = np.asarray(x)
        t = torch.from_numpy(np.array(a, dtype=np.float32, copy=True))
        t = t[None] if t.dim() == 2 else t.permute(2, 0, 1)
        return t, 255.0
    elif isinstance(x, np.ndarray) and x.dtype.kind in "uifb":
        scale = 255.0 if x.dtype == np.uint8 else 1.0
        t = torch.from_numpy(np.array(x, dtype=np.float32, copy=True))
        if t.dim() == 3 and t.shape[-1] <= 4 < t.shape[0]:  # HxWxC arrays, as images are stored
            t = t.permute(2, 0, 1)
    else:
        raise UserError(f"the train transform yields a {type(x).__name__}, not an image "
                        f"(tensor, PIL image or array)")
    if t.dim() == 2:
        t = t[None]
    if t.dim() != 3:
        raise UserError(f"the train transform yields a tensor of shape {tuple(t.shape)}, not an image "
                        f"(CxHxW or HxW)")
    return t, scale


class _StepStats:
    """Running value statistics of one step's outputs: per channel while every output has the same
    channel count, pooled into one channel otherwise."""

    def __init__(self):
        self.kind = None
        self.n = 0  # values per channel
        self.sum = self.sq = None
        self.lo, self.hi = math.inf, -math.inf
        self.changed = self.compared = 0

    def add(self, x: torch.Tensor | None, scale, before=None) -> None:
        if x is None:
            self.kind = self.kind or "not an image"
            return
        self.kind = self.kind or _kind(x, scale)
        flat = x.reshape(x.shape[0], -1).double()
        if self.sum is not None and self.sum.shape[0] != flat.shape[0]:
            self.n *= self.sum.shape[0]
            self.sum, self.sq = self.sum.sum(0, keepdim=True), self.sq.sum(0, keepdim=True)
            flat = flat.reshape(1, -1)
        if self.sum is None:
            self.sum, self.sq = flat.sum(1), flat.pow(2).sum(1)
        else:
            self.sum, self.sq = self.sum + flat.sum(1), self.sq + flat.pow(2).sum(1)
        self.n += flat.shape[1]
        self.lo, self.hi = min(self.lo, float(flat.min())), max(self.hi, float(flat.max()))
        if before is not None:
            prev, _ = _tensor_or_none(before)
            self.compared += 1
            self.changed += prev is None or prev.shape != x.shape or not torch.equal(prev, x)

    def channel_stats(self) -> tuple[list[float], list[float]]:
        if self.sum is None:
            return [], []
        mean = self.sum / self.n
        var = (self.sq / self.n - mean.pow(2)).clamp_min(0)
        return mean.tolist(), var.sqrt().tolist()

    def row(self) -> dict:
        mean, std = self.channel_stats()
        seen = self.sum is not None
        return {"output": self.kind, "mean": rounded(_mean(mean), 4) if seen else None,
                "std": rounded(_mean(std), 4) if seen else None,
                "min": rounded(self.lo, 4) if seen else None, "max": rounded(self.hi, 4) if seen else None,
                "changed": f"{self.changed / self.compared:.0%}" if self.compared else None}


def _kind(x: torch.Tensor, scale: float) -> str:
    shape = "x".join(str(d) for d in x.shape)
    return f"{'uint8' if scale == 255 else 'float'} {shape}"


# -- display space and the damage measures ------------------------------------------------------
def _unnormalise(x: torch.Tensor, normalizers: list) -> torch.Tensor:
    """Undo the pipeline's own Normalize steps, last first, for display."""
    for step in reversed(normalizers):
        mean = torch.as_tensor(step.mean, dtype=torch.float32).reshape(-1, 1, 1)
        std = torch.as_tensor(step.std, dtype=torch.float32).reshape(-1, 1, 1)
        if mean.shape[0] in (1, x.shape[0]) and std.shape[0] in (1, x.shape[0]):
            x = x * std + mean
    return x


def _display(x: torch.Tensor, scale: float, original) -> torch.Tensor:
    """Values mapped to 0..1 for display. 0..255 images are divided by 255; float values that
    mostly lie in 0..1 (ToTensor output, un-normalised) are kept; other floats take the range of
    their original (a draw) or their own range (an original)."""
    if scale == 255:
        return (x / 255).clamp(0, 1)
    lo, hi = torch.quantile(x.flatten()[:: max(1, x.numel() // 4096)], torch.tensor([0.02, 0.98])).tolist()
    if lo >= -0.5 and hi <= 1.5:
        return x.clamp(0, 1)
    if original is not None:
        ref, ref_scale = original
        if ref_scale == 255:
            return (x / 255).clamp(0, 1)
        x_lo, x_hi = float(ref.min()), float(ref.max())
    else:
        x_lo, x_hi = float(x.min()), float(x.max())
    return ((x - x_lo) / max(x_hi - x_lo, 1e-6)).clamp(0, 1)


def _candidate_thetas() -> torch.Tensor:
    """Affine crops of the original a healthy draw may show: scale x position x rotation x flip."""
    thetas = []
    for s in (1.0, 0.75, 0.55, 0.4):
        offsets = (-0.25, 0.0, 0.25) if s == 1.0 else (-(1 - s), 0.0, 1 - s)
        for degrees in (-12, 0, 12):
            c, n = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
            for ty in offsets:
                for tx in offsets:
                    for fx in (1, -1):
                        thetas.append([[s * c * fx, -s * n, tx], [s * n * fx, s * c, ty]])
    return torch.tensor(thetas, dtype=torch.float32)


_IDENTITY = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])


def _thumbs(image: torch.Tensor, thetas: torch.Tensor, side: int = 8):
    """8x8 blurred thumbnails of affine crops of ``image`` (0..1, CxHxW): centred per channel and
    scaled to unit energy, and the energy (contrast) each had."""
    x = image[None]
    if x.shape[-1] > 32 or x.shape[-2] > 32:
        x = F.adaptive_avg_pool2d(x, (min(x.shape[-2], 32), min(x.shape[-1], 32)))
    grid = F.affine_grid(thetas, [len(thetas), x.shape[1], 2 * side, 2 * side], align_corners=False)
    crops = F.grid_sample(x.expand(len(thetas), -1, -1, -1), grid, padding_mode="border", align_corners=False)
    crops = F.avg_pool2d(crops, 2)
    crops = (crops - crops.mean(dim=(-1, -2), keepdim=True)).flatten(1)
    energy = crops.pow(2).mean(1).sqrt()
    return crops / (energy[:, None] + 1e-6), energy


def _similarity(original: torch.Tensor, candidates: torch.Tensor, shown: torch.Tensor,
                thetas: torch.Tensor) -> float:
    """Best correlation of the draw's thumbnail with any candidate crop of its original (in gray
    when the pipeline changed the channel count)."""
    if shown.shape[0] != original.shape[0]:
        candidates, _ = _thumbs(original.mean(0, keepdim=True), thetas)
        shown = shown.mean(0, keepdim=True)
    draw, _ = _thumbs(shown, _IDENTITY)
    return float((candidates @ draw[0]).max()) / draw.shape[1]


def _mode_fraction(x: torch.Tensor) -> float:
    """Share of the image taken by its most common value (the least such share over channels)."""
    flat = x.reshape(x.shape[0], -1)
    return min(float(torch.unique(ch, return_counts=True)[1].max()) / ch.numel() for ch in flat)


# -- verdicts -------------------------------------------------------------------------------------
def _judge_damage(result, s, destroyed_frac, blank_frac, judged, destroyed, blank) -> None:
    if not judged:
        return
    if destroyed_frac >= s["destroyed_warn"]:
        severity = "fail" if destroyed_frac >= s["destroyed_fail"] else "warn"
        result.add("DLC602", f"{destroyed} of {judged} augmented draws ({destroyed_frac:.0%}) no longer resemble "
                             f"their original (framed red in the grid)", severity=severity)
    if blank_frac >= s["blank_warn"]:
        severity = "fail" if blank_frac >= s["blank_fail"] else "warn"
        result.add("DLC603", f"{blank} of {judged} augmented draws ({blank_frac:.0%}) are blank "
                             f"(near-constant; framed orange in the grid)", severity=severity)


def _judge_double_normalise(result, steps: list, stats: list) -> bool:
    """Two Normalize steps, or one Normalize fed data that is already normalised: DLC605."""
    where = [i for i, st in enumerate(steps) if _is_normalize(st)]
    if len(where) >= 2:
        result.add("DLC605", "Normalize appears " + f"{len(where)} times in the pipeline (steps "
                   + ", ".join(str(i + 1) for i in where) + f"): {_short(steps[where[0]], 60)}")
        return True
    for i in where:
        if i == 0:
            continue
        mean, std = stats[i - 1].channel_stats()
        out_mean, out_std = stats[i].channel_stats()
        if not mean or not out_mean:
            continue
        already = stats[i - 1].lo < -0.5 and max(abs(m) for m in mean) < 0.5 and all(0.5 < v < 2 for v in std)
        shifted = max(abs(m) for m in out_mean) > 0.5 or not all(0.5 < v < 2 for v in out_std)
        if already and shifted:
            result.add("DLC605", f"step {i + 1}, {_short(steps[i], 60)}, gets data that is already normalised "
                                 f"(mean {_mean(mean):.2f}, std {_mean(std):.2f}) and shifts it to mean "
                                 f"{_mean(out_mean):.2f}, std {_mean(out_std):.2f}")
            return True
    return False


def _judge_scale(result, s, final: _StepStats, channels, has_normalize: bool) -> None:
    """Is the output normalised? Raw 0..255 values or a far-off mean/std: DLC604. A Normalize-less
    0..1 output (ToTensor only) is common and fine with BatchNorm: an info note (DLC606)."""
    means, stds = channels
    if not means:
        return
    from dlcheck import scale

    after = "after its Normalize" if has_normalize else "and the pipeline has no Normalize"
    peak = max(abs(final.lo), abs(final.hi))
    stats = scale.ChannelStats(mean=list(means), std=list(stds), low=[final.lo] * len(means),
                               high=[final.hi] * len(means))
    verdict = scale.judge(stats, scale.Thresholds(raw_max=s["raw_max"], centre_tolerance=s["max_abs_mean"],
                                                  std_low=s["std_low"], std_high=s["std_high"], centre_share=0.0))
    if verdict.raw or peak > 255.5:
        result.add("DLC604", f"the augmented values reach {peak:.4g} {after}: raw pixel values, not normalised")
    elif verdict.off_centre or verdict.small or verdict.huge:
        result.add("DLC604", f"the augmented tensors have per-channel mean ({', '.join(f'{m:.2f}' for m in means)}) "
                             f"and std ({', '.join(f'{v:.2f}' for v in stds)}) {after}: far from 0 and 1")
    elif not has_normalize and final.lo >= 0 and final.hi <= 1 and _mean(means) > 0.2:
        result.add("DLC606", f"outputs lie in [0, 1] with mean {_mean(means):.2f}: scaled but not zero-centred")


# -- artifacts and small helpers ------------------------------------------------------------------
def _write_grid(ctx: Context, rows, captions, marks) -> str | None:
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


def _mean(values) -> float:
    return sum(values) / len(values)
