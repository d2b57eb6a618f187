"""Healthy soft labels: digits with mixup (each batch mixed with a shuffled copy of itself, the
one-hot targets mixed alike: every row sums to 1) under CrossEntropyLoss."""

import torch
from _targets20_data import DIGITS, MH_X_TRAIN, MH_X_VAL, mlp
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

lr = 1e-3
loss_fn = nn.CrossEntropyLoss()
Y_TRAIN, Y_VAL = DIGITS[:1400], DIGITS[1400:]


def model():
    return mlp(10)


def mixup(rows, alpha: float = 0.4, generator=torch.Generator().manual_seed(0)):
    x, y = torch.utils.data.default_collate(rows)
    y = nn.functional.one_hot(y, 10).float()
    lam = float(torch.distributions.Beta(alpha, alpha).sample()) if alpha else 1.0
    perm = torch.randperm(len(x), generator=generator)
    return lam * x + (1 - lam) * x[perm], lam * y + (1 - lam) * y[perm]


def train_loader():
    return DataLoader(TensorDataset(MH_X_TRAIN, Y_TRAIN), batch_size=64, shuffle=True, collate_fn=mixup,
                      generator=torch.Generator().manual_seed(0))


def val_loader():
    return DataLoader(TensorDataset(MH_X_VAL, Y_VAL), batch_size=64)
