"""A target that forgot its model."""

from _digits import loader

train_loader = loader
