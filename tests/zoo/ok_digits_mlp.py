"""Healthy: a ReLU MLP on digits with Adam, written as factories."""

from _data import loader, standardised
from torch import nn

X, y = standardised("digits")
num_classes = 10


def model():
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 10))


def train_loader():
    return loader(X[:1200], y[:1200])


def val_loader():
    return loader(X[1200:], y[1200:], shuffle=False)
