"""Healthy: the same digits MLP with AdamW and its decoupled weight decay 1e-2."""

import torch
from _optim_data import loaders, mlp

lr = 1e-3
model = mlp
train_loader, val_loader = loaders()


def optimizer(params, lr):
    return torch.optim.AdamW(params, lr=lr, weight_decay=1e-2)
