"""Bug: plain SGD at lr=10 on wine."""

import torch
from _data import loader, standardised
from torch import nn

X, y = standardised("wine")
lr = 10.0
optimizer = lambda params, lr: torch.optim.SGD(params, lr=lr)
model = lambda: nn.Sequential(nn.Linear(13, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 3))
train_loader = lambda: loader(X, y, batch_size=32)
