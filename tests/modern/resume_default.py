"""Healthy: a digits MLP with dropout and Adam; dlcheck's default checkpointing."""

from _resume_data import mlp, train_loader, val_loader  # noqa: F401

num_classes = 10
lr = 1e-3
model = mlp
