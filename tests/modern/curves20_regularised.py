"""curves, healthy twin of curves20_overfit: the same wide MLP with dropout and AdamW's weight
decay, trained on all 1400 training digits: train and val loss stay close."""

import torch
from _curves20_data import train_loader, val_loader  # noqa: F401
from torch import nn

lr = 1e-3


def model():
    return nn.Sequential(nn.Linear(64, 512), nn.ReLU(), nn.Dropout(0.5), nn.Linear(512, 512), nn.ReLU(),
                         nn.Dropout(0.5), nn.Linear(512, 10))


def optimizer(params, lr):
    return torch.optim.AdamW(params, lr=lr, weight_decay=0.05)
