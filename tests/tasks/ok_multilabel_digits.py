"""Healthy: multi-label classification on scikit-learn's digits: four binary labels per image
("is even", "is > 4", "has a loop" (0, 6, 8, 9), "is prime"), BCEWithLogitsLoss, an MLP."""

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
X_train, Y_train, X_val, Y_val = X[:640], Y[:640], X[640:], Y[640:]

lr = 1e-3
loss_fn = nn.BCEWithLogitsLoss()


def model():
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 4))


def train_loader():
    return DataLoader(TensorDataset(X_train, Y_train), batch_size=64, shuffle=True,
                      generator=torch.Generator().manual_seed(0))


def val_loader():
    return DataLoader(TensorDataset(X_val, Y_val), batch_size=64)
