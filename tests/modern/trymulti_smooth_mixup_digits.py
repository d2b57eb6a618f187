"""Healthy soft targets: digits with mixup (alpha 0.4, each batch mixed with a shuffled copy of
itself, the one-hot targets mixed alike) under CrossEntropyLoss(label_smoothing=0.1): the loss's
floor is above 0 (smoothing alone keeps it at or above ~0.5 nats)."""

import torch
from _trymulti_data import digits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset, default_collate

lr = 1e-3
loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)
X, Y, _ = digits()


def model():
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))


def mixup(rows, alpha: float = 0.4, generator=torch.Generator().manual_seed(0)):
    x, y = default_collate(rows)
    y = nn.functional.one_hot(y, 10).float()
    lam = float(torch.distributions.Beta(alpha, alpha).sample())
    perm = torch.randperm(len(x), generator=generator)
    return lam * x + (1 - lam) * x[perm], lam * y + (1 - lam) * y[perm]


def train_loader():
    return DataLoader(TensorDataset(X[:1400], Y[:1400]), batch_size=64, shuffle=True, collate_fn=mixup,
                      generator=torch.Generator().manual_seed(0))


def val_loader():
    return DataLoader(TensorDataset(X[1400:], Y[1400:]), batch_size=128)
