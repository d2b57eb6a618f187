"""Bug: Adam at lr=1e-7 (a typo: meant 1e-3)."""

from _data import loader, standardised
from torch import nn

X, y = standardised("iris")
lr = 1e-7
model = lambda: nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 3))
train_loader = lambda: loader(X, y, batch_size=16)
