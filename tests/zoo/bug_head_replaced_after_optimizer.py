"""Bug: the head is replaced after the optimizer's parameters were taken (the new head never trains)."""

import torch
from _data import loader, standardised
from torch import nn

X, y = standardised("digits")


class Net(nn.Module):
    def __init__(self, classes: int):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU())
        self.head = nn.Linear(128, classes)

    def forward(self, x):
        return self.head(self.body(x))


torch.manual_seed(0)
model = Net(5)  # as pretrained on five classes
params = list(model.parameters())  # the optimizer's parameters, taken here ...
model.head = nn.Linear(128, 10)  # ... before the head is replaced for the ten digits


def optimizer(_params, lr):
    return torch.optim.Adam(params, lr=lr)  # the bug: built from the old parameter list


train_loader = lambda: loader(X, y)  # noqa: E731
