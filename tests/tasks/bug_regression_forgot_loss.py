"""Bug: a regression set-up that forgot `loss_fn = nn.MSELoss()`: dlcheck's default
CrossEntropyLoss over a single output column is identically zero, so nothing can be learned."""

import torch
from _taskdata import tabular
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

X, y = tabular("diabetes")
y = y.float()
y = ((y - y.mean()) / y.std()).unsqueeze(1)  # (N, 1) float targets


def model():
    return nn.Sequential(nn.Linear(10, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1))


def train_loader():
    return DataLoader(TensorDataset(X, y), batch_size=32, shuffle=True,
                      generator=torch.Generator().manual_seed(0))
