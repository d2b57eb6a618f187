"""Bug: an 8-layer ReLU MLP initialised at 3x the He scale (std 3*sqrt(2/fan-in)): the activations
grow about 3x a layer (DLC402); He (kaiming) re-initialisation fixes it."""

import sys
from pathlib import Path

from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "zoo"))
from _data import loader, standardised  # noqa: E402

X, y = standardised("digits")


def model():
    layers, width = [], 64
    for _ in range(8):
        layer = nn.Linear(width, 128)
        nn.init.normal_(layer.weight, 0.0, 3 * (2 / width) ** 0.5)
        layers += [layer, nn.ReLU()]
        width = 128
    return nn.Sequential(*layers, nn.Linear(128, 10))


train_loader = lambda: loader(X, y)
