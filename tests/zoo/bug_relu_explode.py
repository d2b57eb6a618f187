"""Bug: a 12-layer ReLU MLP initialised at 3x the He scale: activations grow layer after layer."""

import math

from _data import loader, standardised
from torch import nn

X, y = standardised("digits")


def model():
    layers, width = [], 64
    for _ in range(12):
        layer = nn.Linear(width, 128)
        nn.init.normal_(layer.weight, 0.0, 3 * math.sqrt(2 / width))
        nn.init.zeros_(layer.bias)
        layers += [layer, nn.ReLU()]
        width = 128
    return nn.Sequential(*layers, nn.Linear(128, 10))


train_loader = lambda: loader(X, y)
