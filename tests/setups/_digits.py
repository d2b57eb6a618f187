"""Shared by the test targets in this folder: scikit-learn's digits, standardised, split once.

Targets import this as `from _digits import ...` (dlcheck puts a target's folder on sys.path while
importing it, as Python does for a script)."""

import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def _load():
    X, y = load_digits(return_X_y=True)
    X = torch.tensor(X, dtype=torch.float32)
    y = torch.tensor(y, dtype=torch.long)
    order = torch.randperm(len(X), generator=torch.Generator().manual_seed(0))
    X, y = X[order], y[order]
    std = X[:1400].std(0)
    std[std < 1e-6] = 1.0
    X = (X - X[:1400].mean(0)) / std
    return X[:1400], y[:1400], X[1400:], y[1400:]


X_TRAIN, Y_TRAIN, X_VAL, Y_VAL = _load()


def mlp(width: int = 128, classes: int = 10) -> nn.Sequential:
    return nn.Sequential(nn.Linear(64, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(),
                         nn.Linear(width, classes))


def loader(X=None, y=None, batch_size: int = 64, shuffle: bool = True) -> DataLoader:
    X = X_TRAIN if X is None else X
    y = Y_TRAIN if y is None else y
    return DataLoader(TensorDataset(X, y), batch_size=batch_size, shuffle=shuffle,
                      generator=torch.Generator().manual_seed(0) if shuffle else None)
