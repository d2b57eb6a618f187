"""Data for the preflight set-ups: scikit-learn's digits, as images, tokens or a slow dataset."""

from __future__ import annotations

import time

import torch
from sklearn import datasets
from torch.utils.data import DataLoader, Dataset, TensorDataset


def digits():
    """(X, y): the 1797 digits as 1x8x8 images, standardised, shuffled once."""
    X, y = datasets.load_digits(return_X_y=True)
    X = torch.tensor(X, dtype=torch.float32).reshape(-1, 1, 8, 8)
    y = torch.tensor(y, dtype=torch.long)
    order = torch.randperm(len(X), generator=torch.Generator().manual_seed(0))
    X = (X - X.mean()) / X.std()
    return X[order], y[order]


class SlowDigits(Dataset):
    """The digits read one sample at a time with a fixed wait per sample, as a dataset that decodes
    files or reads a network disk does (the sleep stands for the I/O)."""

    def __init__(self, seconds: float = 0.003):
        self.X, self.y = digits()
        self.seconds = seconds

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        time.sleep(self.seconds)
        return self.X[i], self.y[i]


def loader(dataset, batch_size=16, num_workers=0, shuffle=True):
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, num_workers=num_workers,
                      generator=torch.Generator().manual_seed(0))


def tensor_loader(batch_size=64):
    X, y = digits()
    return loader(TensorDataset(X[:1200], y[:1200]), batch_size=batch_size)
