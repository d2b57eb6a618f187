"""Bug: the multi-label MLP ends in Sigmoid and the loss is BCEWithLogitsLoss (sigmoid applied
twice): outputs are already probabilities, the loss cannot approach zero."""

import torch
from _taskdata import tabular
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

X, digit = tabular("digits")
X = X[:800]
digit = digit[:800]
Y = torch.stack([
    digit % 2 == 0,
    digit > 4,
    torch.isin(digit, torch.tensor([0, 6, 8, 9])),
    torch.isin(digit, torch.tensor([2, 3, 5, 7])),
], dim=1).float()

lr = 1e-3
loss_fn = nn.BCEWithLogitsLoss()


def model():
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 4),
                         nn.Sigmoid())


def train_loader():
    return DataLoader(TensorDataset(X, Y), batch_size=64, shuffle=True,
                      generator=torch.Generator().manual_seed(0))
