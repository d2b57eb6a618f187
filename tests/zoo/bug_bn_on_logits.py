"""Bug: BatchNorm after the final Linear, normalising the logits."""

from _data import loader, standardised
from torch import nn

X, y = standardised("digits")
model = lambda: nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10), nn.BatchNorm1d(10))
train_loader = lambda: loader(X, y)
