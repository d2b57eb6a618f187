"""Data shared by the floor_ set-ups: scikit-learn's bundled digits (8x8 images, 0..16), scaled to
[0, 1] and shuffled once; and the two augmented views a contrastive (SimCLR-style) set-up trains on."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.datasets import load_digits
from torch.utils.data import Dataset


def digits(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(images (N, 1, 8, 8) in [0, 1], labels (N,)), shuffled once."""
    X, y = load_digits(return_X_y=True)
    order = np.random.default_rng(seed).permutation(len(X))
    images = torch.tensor(X[order], dtype=torch.float32).reshape(-1, 1, 8, 8) / 16.0
    return images, torch.tensor(y[order])


def augment(image: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One random view: a shift of up to one pixel, a random contrast and a little noise."""
    dx, dy = (torch.randint(-1, 2, (2,), generator=generator)).tolist()
    view = torch.roll(image, shifts=(dy, dx), dims=(1, 2))
    view = view * (0.7 + 0.6 * torch.rand((), generator=generator))
    return view + 0.1 * torch.randn(view.shape, generator=generator)


class TwoViews(Dataset):
    """Each item: two random views of one image (the SimCLR pair); labels are not used."""

    def __init__(self, images: torch.Tensor, seed: int = 0):
        self.images = images
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        image = self.images[i]
        return augment(image, self.generator), augment(image, self.generator)
