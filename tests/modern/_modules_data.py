"""Data and a pretrained-style backbone shared by the modules_ set-ups: scikit-learn's digits
(8x8 images, standardised), and a small conv backbone with BatchNorm "pretrained" on digits 0-4
(a plain loop, seeded, done once per process), as a practitioner loads a pretrained backbone."""

from __future__ import annotations

import copy
import functools

import numpy as np
import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset


@functools.lru_cache(maxsize=None)
def digits() -> tuple[torch.Tensor, torch.Tensor]:
    """(X, y): X of shape (1797, 1, 8, 8), standardised by the global mean and std; shuffled once."""
    X, y = load_digits(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(X))
    X = torch.tensor(X[order], dtype=torch.float32)
    X = (X - X.mean()) / X.std()
    return X.reshape(-1, 1, 8, 8), torch.tensor(y[order])


def loaders(batch_size: int = 64, train: int = 1400):
    X, y = digits()
    train_loader = lambda: DataLoader(TensorDataset(X[:train], y[:train]), batch_size=batch_size,  # noqa: E731
                                      shuffle=True, generator=torch.Generator().manual_seed(0))
    val_loader = lambda: DataLoader(TensorDataset(X[train:], y[train:]), batch_size=batch_size)  # noqa: E731
    return train_loader, val_loader


def make_backbone() -> nn.Sequential:
    """conv-BN-ReLU x2 and a pool: 64 features per image. backbone.1 is a BatchNorm2d."""
    return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
                         nn.Conv2d(32, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten())


@functools.lru_cache(maxsize=None)
def _pretrained_state() -> dict:
    with torch.random.fork_rng():
        torch.manual_seed(1234)
        X, y = digits()
        keep = y < 5  # "pretraining" on another task: digits 0-4 only
        X, y = X[keep], y[keep]
        backbone, head = make_backbone(), nn.Linear(64, 5)
        opt = torch.optim.Adam([*backbone.parameters(), *head.parameters()], lr=3e-3)
        gen = torch.Generator().manual_seed(0)
        for _ in range(150):
            idx = torch.randint(len(X), (64,), generator=gen)
            loss = F.cross_entropy(head(backbone(X[idx])), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        return copy.deepcopy(backbone.state_dict())


def pretrained_backbone() -> nn.Sequential:
    """A fresh copy of the pretrained backbone (its BN running statistics as pretraining left them)."""
    backbone = make_backbone()
    backbone.load_state_dict(_pretrained_state())
    return backbone
