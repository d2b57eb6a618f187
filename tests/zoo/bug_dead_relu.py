"""Bug: hidden biases initialised to -5: most ReLU units never fire."""

import torch
from _data import loader, standardised
from torch import nn

X, y = standardised("breast_cancer")


def model():
    net = nn.Sequential(nn.Linear(30, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 2))
    with torch.no_grad():
        net[0].bias.fill_(-5.0)
        net[2].bias.fill_(-5.0)
    return net


train_loader = lambda: loader(X, y)
