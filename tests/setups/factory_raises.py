"""A model factory with a bug in it."""

from _digits import loader


def model():
    raise ValueError("hidden width must be positive, got -3")


train_loader = loader
