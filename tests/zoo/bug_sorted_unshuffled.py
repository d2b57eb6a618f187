"""Bug: the dataset is sorted by class and the loader does not shuffle."""

import torch
from _data import standardised
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

X, y = standardised("digits")
order = torch.argsort(y, stable=True)
model = lambda: nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
train_loader = DataLoader(TensorDataset(X[order], y[order]), batch_size=32, shuffle=False)
