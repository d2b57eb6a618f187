"""Bug: save_checkpoint saves the model alone: the resumed Adam starts its moments over."""

import torch
from _resume_data import mlp, train_loader, val_loader  # noqa: F401

num_classes = 10
lr = 1e-3
model = mlp


def save_checkpoint(path, model, optimizer):
    torch.save({"model": model.state_dict(), "rng": torch.get_rng_state()}, path)  # the bug: no optimizer


def load_checkpoint(path, model, optimizer):
    state = torch.load(path, weights_only=True)
    model.load_state_dict(state["model"])
    torch.set_rng_state(state["rng"])
