"""aug-preview's dense targets (DLC607): for segmentation-style samples (a target with the
input's height and width), the same samples drawn several times through the dataset itself
(``dataset[i]``, its transforms in place: exactly what the loader gets), each draw's image and mask
compared with the raw image and mask.

How "the mask follows the image" is judged: the raw image and the raw mask (one plane per common
value) go to 8x8 blurred thumbnails of many affine crops (images.py: scale x position x small
rotation x horizontal flip); a draw's image and mask are correlated with them. Some one crop must
explain both: ``gap`` is, over the crops, the least of the larger shortfall from each one's best
correlation. A photometric change keeps the identity best for both (gap near 0); a joint flip or
crop moves both alike (gap near 0); a flip of the image alone leaves the mask's best crop the
identity, which the flipped image matches badly (a large gap). Draws whose image and mask come
out with different heights and widths do not follow either.
"""

from __future__ import annotations

import numpy as np
import torch

from dlcheck.context import Context
from dlcheck.device import seed_everything
from dlcheck.errors import UserError, describe_exception

from .images import _IDENTITY, _as_image, _candidate_thetas, _display, _tensor_or_none, _thumbs, _unnormalise
from .sources import _split_item

#: Step names that move pixels (the hint of DLC607's message): torchvision's and albumentations'.
GEOMETRIC = ("flip", "crop", "rotat", "affine", "perspective", "elastic", "resize", "pad", "zoom", "shift",
             "transpose", "warp", "scale")
#: Overlay colours of the mask's values (class 1 first), the most common one (background) left clear.
PALETTE = ((1.0, 0.25, 0.25), (0.25, 0.85, 0.25), (0.3, 0.5, 1.0), (0.95, 0.8, 0.15), (0.8, 0.3, 0.9),
           (0.2, 0.9, 0.9))
MAX_PLANES = 6  # mask values compared (the most common ones)
MAX_LEVELS = 32  # a target with more distinct values is a dense map (depth), compared as one plane


def _as_mask(y) -> torch.Tensor | None:
    """A HxW tensor from a mask (tensor, array, PIL image; a leading 1 dropped), else None."""
    if hasattr(y, "getbands") and hasattr(y, "size"):
        y = np.asarray(y)
    if isinstance(y, np.ndarray) and y.dtype.kind in "uifb":
        y = torch.from_numpy(np.array(y, copy=True))
    if not isinstance(y, torch.Tensor):
        return None
    y = y.detach().cpu().as_subclass(torch.Tensor)
    if y.dim() == 3 and y.shape[0] == 1:
        y = y[0]
    return y if y.dim() == 2 else None


def _dense_pair(src: dict):
    """(image, scale, mask) of a raw sample whose target has its image's height and width, else None."""
    image, scale = _tensor_or_none(src["x"])
    mask = _as_mask(src.get("target"))
    if image is None or mask is None or tuple(mask.shape) != tuple(image.shape[-2:]):
        return None
    return image, scale, mask


def _levels(mask: torch.Tensor) -> list | None:
    """The mask's values, most common first (at most MAX_PLANES); None for a dense map of many values."""
    values, counts = torch.unique(mask, return_counts=True)
    if len(values) > MAX_LEVELS and mask.dtype.is_floating_point:
        return None
    return values[counts.argsort(descending=True)][:MAX_PLANES].tolist()


def _planes(mask: torch.Tensor, levels: list | None) -> torch.Tensor:
    if levels is None:
        return mask.float()[None]
    return torch.stack([(mask == v).float() for v in levels])


def _gap(cx: torch.Tensor, cm: torch.Tensor, shown: torch.Tensor, planes: torch.Tensor) -> float:
    """How far the best single crop falls short of explaining both the image and the mask drawn."""
    dx, _ = _thumbs(shown, _IDENTITY)
    dm, _ = _thumbs(planes, _IDENTITY)
    sx = cx @ dx[0] / dx.shape[1]
    sm = cm @ dm[0] / dm.shape[1]
    return float(torch.maximum(sx.max() - sx, sm.max() - sm).min())


def _overlay(shown: torch.Tensor, mask: torch.Tensor | None, levels: list | None) -> np.ndarray:
    """The image (0..1, CxHxW) with each mask value but the most common tinted, as HxWx3."""
    rgb = shown if shown.shape[0] == 3 else shown.mean(0, keepdim=True).expand(3, -1, -1)
    rgb = rgb.clone()
    if mask is not None and levels is not None and tuple(mask.shape) == tuple(rgb.shape[-2:]):
        for k, v in enumerate(levels[1:]):
            where = mask == v
            k = int(v) - 1 if float(v).is_integer() else k  # a class keeps its colour from row to row
            colour = torch.tensor(PALETTE[k % len(PALETTE)]).reshape(3, 1)
            rgb[:, where] = 0.55 * rgb[:, where] + 0.45 * colour
    return rgb.permute(1, 2, 0).numpy()


def geometric_steps(steps: list, short) -> list[str]:
    """The pipeline's steps whose class name says they move pixels."""
    return [short(st, 60) for st in steps if any(w in type(st).__name__.lower() for w in GEOMETRIC)]


def measure_dense(ctx: Context, m, sources: list[dict], normalizers: list) -> None:
    """Judge whether the masks follow the images (counted into ``m``) and keep the mask grid."""
    s = ctx.settings
    pairs = [(src, p) for src in sources[:max(1, int(s["mask_samples"]))] if (p := _dense_pair(src))]
    if not pairs:
        return  # not segmentation-style data: nothing to judge, nothing to say
    dataset = getattr(ctx.loader("train"), "dataset", None)
    if dataset is None or not hasattr(dataset, "__getitem__"):
        m.mask_note = "the train loader has no dataset to draw the same samples from again"
        return
    thetas = _candidate_thetas()
    seed_everything(ctx.seed)
    rows, marks = [], []
    for src, (image, scale, mask) in pairs:
        row, mark = _dense_row(ctx, m, dataset, src, (image, scale, mask), normalizers, thetas)
        if len(rows) < int(s["count"]):
            rows.append(row)
            marks.append(mark)
        if ctx.out_of_time():
            break
    m.mask_samples = len(rows)
    m.mask_grid = _keep_mask_grid(ctx, rows, marks, [f"#{src['index']}" for src, _ in pairs])


def _dense_row(ctx: Context, m, dataset, src: dict, raw: tuple, normalizers: list, thetas) -> tuple[list, list]:
    """``mask_draws`` draws of one sample through the dataset, judged: the grid row and its marks."""
    s = ctx.settings
    image, scale, mask = raw
    o_disp = _display(image, scale, None)
    levels = _levels(mask)
    cx, _ = _thumbs(o_disp, thetas)
    cm, _ = _thumbs(_planes(mask, levels), thetas)
    ex, em = _thumbs(o_disp, _IDENTITY)[1], _thumbs(_planes(mask, levels), _IDENTITY)[1]
    judged = float(ex[0]) >= s["structure_min"] and float(em[0]) >= s["mask_structure_min"]
    row, mark = [_overlay(o_disp, mask, levels)], [None]
    for _ in range(max(1, int(s["mask_draws"]))):
        x, y = _split_item(_item(ctx, dataset, src["index"]), ctx)
        x, x_scale = _as_image(x)
        y = _as_mask(y)
        shown = _display(_unnormalise(x, normalizers), x_scale, (image, scale))
        flag = None
        if y is None:
            pass
        elif tuple(y.shape) != tuple(x.shape[-2:]):
            m.mask_judged += 1
            m.mask_resized += 1
            flag = "mismatch"
        elif judged and shown.shape[0] == o_disp.shape[0]:
            m.mask_judged += 1
            if _gap(cx, cm, shown, _planes(y, levels)) > s["mask_gap"]:
                flag = "mismatch"
                m.mask_still += bool(torch.equal(y, mask))
        if flag:
            m.mask_mismatched += 1
            if str(src["index"]) not in m.mask_examples and len(m.mask_examples) < 3:
                m.mask_examples.append(str(src["index"]))
        row.append(_overlay(shown, y, levels))
        mark.append(flag)
    return row, mark


def _item(ctx: Context, dataset, i: int):
    try:
        return dataset[i]
    except Exception as exc:
        raise UserError(f"{ctx.target.where('train_loader')}'s dataset raised {describe_exception(exc)} "
                        f"on sample {i}") from exc


def _keep_mask_grid(ctx: Context, rows, marks, captions) -> str | None:
    """The mask grid on the result as data (``masks.png`` under ``--out``), or None."""
    if not rows:
        return None
    ctx.result.figure("aug_grid", "each source image with its mask overlaid (framed blue) beside draws of the "
                                  "dataset itself, image and mask as the loader gets them; draws whose mask "
                                  "does not follow the image framed red", file="masks.png",
                      rows=rows, captions=captions[:len(rows)], marks=marks, cell=int(ctx.settings["cell_px"]),
                      max_rows=int(ctx.settings["max_rows"]))
    path = ctx.artifact_path("masks.png")
    return str(path) if path is not None else None
