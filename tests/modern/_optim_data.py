"""Data and models shared by the optim_ set-ups: scikit-learn's digits as flat, standardised
vectors for the MLPs (the conv set-ups use _modules_data's 8x8 images and pretrained backbone)."""

from __future__ import annotations

import functools

import numpy as np
import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


@functools.lru_cache(maxsize=None)
def digits() -> tuple[torch.Tensor, torch.Tensor]:
    """(X, y): X of shape (1797, 64), standardised per feature; shuffled once."""
    X, y = load_digits(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(X))
    X = torch.tensor(X[order], dtype=torch.float32)
    std = X.std(0)
    std[std < 1e-6] = 1.0
    return (X - X.mean(0)) / std, torch.tensor(y[order])


def loaders(batch_size: int = 64, train: int = 1400):
    X, y = digits()
    train_loader = lambda: DataLoader(TensorDataset(X[:train], y[:train]), batch_size=batch_size,  # noqa: E731
                                      shuffle=True, generator=torch.Generator().manual_seed(0))
    val_loader = lambda: DataLoader(TensorDataset(X[train:], y[train:]), batch_size=batch_size)  # noqa: E731
    return train_loader, val_loader


def mlp() -> nn.Sequential:
    """A LayerNorm MLP: 64 -> 128 -> 128 -> 10."""
    return nn.Sequential(nn.Linear(64, 128), nn.LayerNorm(128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(),
                         nn.Linear(128, 10))
