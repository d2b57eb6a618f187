"""Data and model shared by the resume_ set-ups: scikit-learn's digits as flat, standardised
vectors, and an MLP with dropout (its training step draws random numbers)."""

from __future__ import annotations

import functools

import numpy as np
import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


@functools.lru_cache(maxsize=None)
def digits() -> tuple[torch.Tensor, torch.Tensor]:
    X, y = load_digits(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(X))
    X = torch.tensor(X[order], dtype=torch.float32)
    std = X.std(0)
    std[std < 1e-6] = 1.0
    return (X - X.mean(0)) / std, torch.tensor(y[order])


def train_loader():
    """Shuffled by the global RNG (generator=None), as most scripts write it."""
    X, y = digits()
    return DataLoader(TensorDataset(X[:1200], y[:1200]), batch_size=64, shuffle=True)


def val_loader():
    X, y = digits()
    return DataLoader(TensorDataset(X[1200:], y[1200:]), batch_size=64)


def mlp() -> nn.Sequential:
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Dropout(0.2), nn.Linear(128, 128), nn.ReLU(),
                         nn.Dropout(0.2), nn.Linear(128, 10))
