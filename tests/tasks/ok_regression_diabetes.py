"""Healthy: MSE regression on scikit-learn's diabetes set (442 patients, 10 features), inputs
standardised, targets scaled to zero mean and unit variance, an MLP with one output."""

import torch
from _taskdata import tabular
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

X, y = tabular("diabetes")
y = y.float()
y = ((y - y.mean()) / y.std()).unsqueeze(1)  # (N, 1), like the model's output
X_train, y_train, X_val, y_val = X[:352], y[:352], X[352:], y[352:]

lr = 1e-3
loss_fn = nn.MSELoss()


def model():
    return nn.Sequential(nn.Linear(10, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1))


def train_loader():
    return DataLoader(TensorDataset(X_train, y_train), batch_size=32, shuffle=True,
                      generator=torch.Generator().manual_seed(0))


def val_loader():
    return DataLoader(TensorDataset(X_val, y_val), batch_size=64)
