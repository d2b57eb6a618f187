"""aug-preview: images as CxHxW tensors, running statistics of a step's outputs, display space
and the damage measures (thumbnail similarity, the largest one-value region)."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from dlcheck.errors import UserError
from dlcheck.results import rounded


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



def _mean(values) -> float:
    return sum(values) / len(values)
