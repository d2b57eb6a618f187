"""Healthy: wine (13 features, 3 classes) with SGD + momentum and its own lr, as module objects."""

import torch
from _data import loader, standardised
from torch import nn

X, y = standardised("wine")
lr = 0.05
optimizer = lambda params, lr: torch.optim.SGD(params, lr=lr, momentum=0.9)
model = lambda: nn.Sequential(nn.Linear(13, 64), nn.Tanh(), nn.Linear(64, 3))
train_loader = lambda: loader(X, y, batch_size=32)
