"""A target that forgot its train_loader."""

from _digits import mlp

model = mlp
