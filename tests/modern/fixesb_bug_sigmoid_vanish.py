"""Bug the advised fix does not help: a 10-layer sigmoid MLP. Its first layers' gradients vanish
(DLC405) because sigmoid's slope is at most 1/4, so every layer shrinks the gradient whatever the
weights' scale: Xavier re-initialisation (the catalogued fix) leaves the finding in place; the real
fix is another nonlinearity (ReLU, tanh) or normalisation."""

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
        nn.init.normal_(layer.weight, 0.0, 0.5 / width ** 0.5)
        layers += [layer, nn.Sigmoid()]
        width = 128
    return nn.Sequential(*layers, nn.Linear(128, 10))


train_loader = lambda: loader(X, y)
