"""Bug: a 10-layer tanh MLP initialised at a tenth of the LeCun/Xavier scale (0.1/sqrt(fan-in)):
the first layers' gradients vanish against the last ones' (DLC405); Xavier with tanh's gain fixes it."""

import sys
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "zoo"))
from _data import loader, standardised  # noqa: E402

X, y = standardised("digits")


def model():
    layers, width = [], 64
    for _ in range(10):
        layer = nn.Linear(width, 128)
        nn.init.normal_(layer.weight, 0.0, 0.1 / width ** 0.5)
        layers += [layer, nn.Tanh()]
        width = 128
    return nn.Sequential(*layers, nn.Linear(128, 10))


train_loader = lambda: loader(X, y)
