"""curves, planted: a wide MLP (two hidden layers of 512, no dropout, no weight decay) trained with
Adam on only 100 of scikit-learn's digits: the train loss goes to ~0 and train accuracy to 100 %
while the val loss levels off far above it, val accuracy ~9 points lower (a large generalisation
gap; the val loss hardly turns up, so the turn-up alone does not show it)."""

from _curves20_data import train_loader as _train, val_loader  # noqa: F401
from torch import nn

lr = 1e-3


def model():
    return nn.Sequential(nn.Linear(64, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))


def train_loader():
    return _train(100)
