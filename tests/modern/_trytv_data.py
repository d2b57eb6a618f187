"""Data for the trytv_* set-ups (dlcheck tried as a new user would on torchvision architectures):
64x64 crops of scikit-learn's two sample photos with a 3-class mask derived from the pixels
themselves (brightness tertiles), or labelled by photo; and scikit-learn's digits upsampled to
3x32x32 or 3x64x64. Small, in memory, nothing downloaded. Not a set-up itself."""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits, load_sample_images
from torch.utils.data import DataLoader, TensorDataset


@functools.lru_cache(maxsize=None)
def photo_crops(n: int = 128, size: int = 64) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(n, 3, size, size) crops of the two sample photos normalised per channel, their (n, size,
    size) masks -- 0/1/2 by the pixel's brightness tertile over all crops -- and which photo."""
    photos = load_sample_images().images
    rng = np.random.default_rng(0)
    xs, ys = [], []
    for i in range(n):
        img = photos[i % 2]
        r, c = rng.integers(0, img.shape[0] - size), rng.integers(0, img.shape[1] - size)
        xs.append(torch.from_numpy(np.ascontiguousarray(img[r:r + size, c:c + size])).permute(2, 0, 1))
        ys.append(i % 2)
    x = torch.stack(xs).float() / 255.0
    bright = x.mean(dim=1)
    cuts = torch.quantile(bright.flatten(), torch.tensor([1 / 3, 2 / 3]))
    mask = torch.bucketize(bright, cuts).long()
    mean, std = x.mean(dim=(0, 2, 3), keepdim=True), x.std(dim=(0, 2, 3), keepdim=True)
    return (x - mean) / std, mask, torch.tensor(ys)


@functools.lru_cache(maxsize=None)
def digits(n: int = 384, size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """(n, 3, size, size) digit images (bilinear-upsampled, standardised) and their labels, shuffled once."""
    X, y = load_digits(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(X))[:n]
    x = torch.tensor(X[order] / 16.0, dtype=torch.float32).reshape(-1, 1, 8, 8)
    x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
    x = ((x - x.mean()) / x.std()).expand(-1, 3, -1, -1).contiguous()
    return x, torch.tensor(y[order], dtype=torch.long)


def loader(X, y, batch_size: int = 16, shuffle: bool = True) -> DataLoader:
    return DataLoader(TensorDataset(X, y), batch_size=batch_size, shuffle=shuffle,
                      generator=torch.Generator().manual_seed(0) if shuffle else None)
