"""Data for the trytimm_* set-ups (dlcheck tried as a new user would on timm architectures):
scikit-learn's digits upsampled to 3x32x32 and standardised, and 32x32 crops of its two bundled
sample photos labelled by photo, normalised per channel (the zoo's loaders, tests/zoo/_data.py).
Small, in memory, nothing downloaded. Not a set-up itself."""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "zoo"))
import _data  # noqa: E402  (the zoo's bundled data)

loader = functools.partial(_data.loader, batch_size=16)


def digits32(n: int = 384) -> tuple[torch.Tensor, torch.Tensor]:
    """(n, 3, 32, 32) digit images (bilinear-upsampled, standardised) and their labels, shuffled once."""
    return _data.digits_rgb(n, 32)


@functools.lru_cache(maxsize=None)
def photo_patches(n: int = 256, size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """(n, 3, size, size) float crops of the two sample photos (china, flower), normalised per
    channel with the crops' own statistics; the label says which photo."""
    x, y = _data.photo_crops(n, size)
    return _data.per_channel(x.float() / 255.0), y
