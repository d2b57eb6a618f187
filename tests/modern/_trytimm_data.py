"""Data for the trytimm_* set-ups (dlcheck tried as a new user would on timm architectures):
scikit-learn's digits upsampled to 3x32x32 and standardised, and 32x32 crops of its two bundled
sample photos labelled by photo, normalised per channel. Small, in memory, nothing downloaded.
Not a set-up itself."""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits, load_sample_images
from torch.utils.data import DataLoader, TensorDataset


@functools.lru_cache(maxsize=None)
def digits32(n: int = 384) -> tuple[torch.Tensor, torch.Tensor]:
    """(n, 3, 32, 32) digit images (bilinear-upsampled, standardised) and their labels, shuffled once."""
    X, y = load_digits(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(X))[:n]
    x = torch.tensor(X[order] / 16.0, dtype=torch.float32).reshape(-1, 1, 8, 8)
    x = F.interpolate(x, size=32, mode="bilinear", align_corners=False)
    x = ((x - x.mean()) / x.std()).expand(-1, 3, -1, -1).contiguous()
    return x, torch.tensor(y[order], dtype=torch.long)


@functools.lru_cache(maxsize=None)
def photo_patches(n: int = 256, size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """(n, 3, size, size) float crops of the two sample photos (china, flower), normalised per
    channel with the crops' own statistics; the label says which photo."""
    photos = load_sample_images().images
    rng = np.random.default_rng(0)
    xs, ys = [], []
    for i in range(n):
        img = photos[i % 2]
        r, c = rng.integers(0, img.shape[0] - size), rng.integers(0, img.shape[1] - size)
        xs.append(torch.from_numpy(np.ascontiguousarray(img[r:r + size, c:c + size])).permute(2, 0, 1))
        ys.append(i % 2)
    x = torch.stack(xs).float() / 255.0
    mean, std = x.mean(dim=(0, 2, 3), keepdim=True), x.std(dim=(0, 2, 3), keepdim=True)
    return (x - mean) / std, torch.tensor(ys)


def loader(X, y, batch_size: int = 16, shuffle: bool = True) -> DataLoader:
    return DataLoader(TensorDataset(X, y), batch_size=batch_size, shuffle=shuffle,
                      generator=torch.Generator().manual_seed(0) if shuffle else None)
