"""Bug: the optimizer is only given the last layer's parameters."""

import torch
from _data import loader, standardised
from torch import nn

X, y = standardised("digits")


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(64, 4), nn.ReLU())  # a bottleneck that never learns
        self.head = nn.Linear(4, 10)

    def forward(self, x):
        return self.head(self.body(x))


def optimizer(params, lr):
    params = list(params)
    return torch.optim.Adam(params[-2:], lr=lr)  # the bug: head only


model = Net
train_loader = lambda: loader(X, y)
