"""Real data for the bug zoo (and the tests/modern set-ups that reuse it), loaded once:
scikit-learn's bundled sets and sample photos."""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F
from sklearn import datasets
from torch.utils.data import DataLoader, Dataset, TensorDataset


def standardised(name: str):
    """(X, y) of a bundled tabular set, shuffled once and standardised per feature."""
    X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    X = torch.tensor(X, dtype=torch.float32)
    y = torch.tensor(y, dtype=torch.long)
    order = torch.randperm(len(X), generator=torch.Generator().manual_seed(0))
    X, y = X[order], y[order]
    std = X.std(0)
    std[std < 1e-6] = 1.0
    return (X - X.mean(0)) / std, y


def loader(X, y, batch_size=64, shuffle=True):
    return DataLoader(TensorDataset(X, y), batch_size=batch_size, shuffle=shuffle,
                      generator=torch.Generator().manual_seed(0) if shuffle else None)


@functools.lru_cache(maxsize=None)
def digits_rgb(n: int = 384, size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """(n, 3, size, size) digit images (bilinear-upsampled, standardised) and their labels, shuffled once."""
    X, y = datasets.load_digits(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(X))[:n]
    x = torch.tensor(X[order] / 16.0, dtype=torch.float32).reshape(-1, 1, 8, 8)
    x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
    x = ((x - x.mean()) / x.std()).expand(-1, 3, -1, -1).contiguous()
    return x, torch.tensor(y[order], dtype=torch.long)


@functools.lru_cache(maxsize=None)
def photo_crops(n: int = 192, size: int = 40) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 crops (n, 3, size, size) of the two sample photos (china, flower in turn); the label
    says which photo."""
    photos = datasets.load_sample_images().images
    rng = np.random.default_rng(0)
    xs, ys = [], []
    for i in range(n):
        img = photos[i % 2]
        r, c = rng.integers(0, img.shape[0] - size), rng.integers(0, img.shape[1] - size)
        xs.append(torch.from_numpy(np.ascontiguousarray(img[r:r + size, c:c + size])).permute(2, 0, 1))
        ys.append(i % 2)
    return torch.stack(xs), torch.tensor(ys)


def per_channel(x: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) images normalised per channel with their own statistics."""
    mean, std = x.mean(dim=(0, 2, 3), keepdim=True), x.std(dim=(0, 2, 3), keepdim=True)
    return (x - mean) / std


def photo_patches(size: int = 32, per_photo: int = 96):
    """uint8 HxWx3 patches cut from scikit-learn's two sample photos; label = which photo and which
    half of it (4 classes)."""
    photos = datasets.load_sample_images().images  # china.jpg, flower.jpg: 427x640x3 uint8
    rng = np.random.default_rng(0)
    patches, labels = [], []
    for p, photo in enumerate(photos):
        h, w, _ = photo.shape
        for i in range(per_photo):
            half = i % 2
            top = int(rng.integers(0, h - size))
            left = int(rng.integers(half * w // 2, (half + 1) * w // 2 - size))
            patches.append(photo[top:top + size, left:left + size])
            labels.append(2 * p + half)
    order = rng.permutation(len(patches))
    return np.stack(patches)[order], np.array(labels)[order]


class PatchDataset(Dataset):
    """Photo patches as PIL images through a torchvision transform, as user datasets do."""

    def __init__(self, transform=None):
        self.patches, self.labels = photo_patches()
        self.transform = transform

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        from PIL import Image

        image = Image.fromarray(self.patches[i])
        return (self.transform(image) if self.transform else image), int(self.labels[i])
