"""Bug: a 10-layer tanh MLP with N(0, 0.01^2) weights: activations shrink to zero with depth."""

from _data import loader, standardised
from torch import nn

X, y = standardised("digits")


def model():
    layers, width = [], 64
    for _ in range(10):
        layers += [nn.Linear(width, 128), nn.Tanh()]
        width = 128
    net = nn.Sequential(*layers, nn.Linear(128, 10))
    for m in net.modules():
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, 0.01)
            nn.init.zeros_(m.bias)
    return net


train_loader = lambda: loader(X, y)
