"""Data for the trytv_* set-ups (dlcheck tried as a new user would on torchvision architectures):
64x64 crops of scikit-learn's two sample photos with a 3-class mask derived from the pixels
themselves (brightness tertiles), or labelled by photo; and scikit-learn's digits upsampled to
3x32x32 or 3x64x64 (the zoo's loaders, tests/zoo/_data.py). Small, in memory, nothing downloaded.
Not a set-up itself."""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "zoo"))
import _data  # noqa: E402  (the zoo's bundled data)

loader = functools.partial(_data.loader, batch_size=16)
digits = _data.digits_rgb  # (n, 3, size, size) standardised digits and their labels


@functools.lru_cache(maxsize=None)
def photo_crops(n: int = 128, size: int = 64) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(n, 3, size, size) crops of the two sample photos normalised per channel, their (n, size,
    size) masks -- 0/1/2 by the pixel's brightness tertile over all crops -- and which photo."""
    x, ys = _data.photo_crops(n, size)
    x = x.float() / 255.0
    bright = x.mean(dim=1)
    cuts = torch.quantile(bright.flatten(), torch.tensor([1 / 3, 2 / 3]))
    mask = torch.bucketize(bright, cuts).long()
    return _data.per_channel(x), mask, ys
