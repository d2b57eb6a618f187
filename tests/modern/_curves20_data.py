"""Data shared by the curves20_ set-ups: scikit-learn's bundled digits (shuffled once, as the
floor_ set-ups read them), flattened and standardised with the first 1400 (training) samples'
statistics; the rest is the validation split."""

import torch
from _floor_data import digits
from torch.utils.data import DataLoader, TensorDataset

images, labels = digits()
X = images.flatten(1)
X = (X - X[:1400].mean(0)) / X[:1400].std(0).clamp_min(1e-3)


def train_loader(n: int = 1400, batch_size: int = 32) -> DataLoader:
    return DataLoader(TensorDataset(X[:n], labels[:n]), batch_size=batch_size, shuffle=True,
                      generator=torch.Generator().manual_seed(0))


def val_loader() -> DataLoader:
    return DataLoader(TensorDataset(X[1400:], labels[1400:]), batch_size=256)
