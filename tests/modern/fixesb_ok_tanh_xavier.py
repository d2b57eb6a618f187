"""Healthy twin of fixesb_bug_tanh_vanish: the same 10-layer tanh MLP with Xavier initialisation
at tanh's gain (what the fix pastes)."""

import sys
from pathlib import Path

from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "zoo"))
from _data import loader, standardised  # noqa: E402

X, y = standardised("digits")
n = len(X) * 4 // 5


def model():
    layers, width = [], 64
    for _ in range(10):
        layer = nn.Linear(width, 128)
        nn.init.xavier_normal_(layer.weight, gain=nn.init.calculate_gain("tanh"))
        layers += [layer, nn.Tanh()]
        width = 128
    return nn.Sequential(*layers, nn.Linear(128, 10))


train_loader = lambda: loader(X[:n], y[:n])
val_loader = lambda: loader(X[n:], y[n:], shuffle=False)
