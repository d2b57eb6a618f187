"""Bug: the checkpoint holds the model and the optimizer but not the RNG state, with dropout in
the model: the resumed run draws other dropout masks."""

import torch
from _resume_data import mlp, train_loader, val_loader  # noqa: F401

num_classes = 10
lr = 1e-3
model = mlp


def save_checkpoint(path, model, optimizer):
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict()}, path)


def load_checkpoint(path, model, optimizer):
    state = torch.load(path, weights_only=True)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
