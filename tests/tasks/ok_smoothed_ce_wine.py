"""Healthy: wine (3 imbalanced classes) with CrossEntropyLoss(label_smoothing=0.1) and inverse-
frequency class weights, an MLP. The loss cannot fall below the smoothed targets' entropy."""

import torch
from _taskdata import tabular
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

X, y = tabular("wine")
X_train, y_train, X_val, y_val = X[:142], y[:142], X[142:], y[142:]
counts = torch.bincount(y_train, minlength=3).float()
weight = counts.sum() / (3 * counts)

lr = 1e-3
loss_fn = nn.CrossEntropyLoss(weight=weight, label_smoothing=0.1)


def model():
    return nn.Sequential(nn.Linear(13, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 3))


def train_loader():
    return DataLoader(TensorDataset(X_train, y_train), batch_size=16, shuffle=True,
                      generator=torch.Generator().manual_seed(0))


def val_loader():
    return DataLoader(TensorDataset(X_val, y_val), batch_size=36)
