"""Bug: save_checkpoint saves the model, the optimizer and the RNG but not the LR scheduler: the
resumed schedule starts over."""

import torch
from _resume_data import mlp, train_loader, val_loader  # noqa: F401

num_classes = 10
lr = 1e-3
model = mlp


def scheduler(optimizer):
    return torch.optim.lr_scheduler.StepLR(optimizer, step_size=10, gamma=0.5)


def save_checkpoint(path, model, optimizer, scheduler=None):
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "rng": torch.get_rng_state()}, path)  # the bug: no scheduler.state_dict()


def load_checkpoint(path, model, optimizer, scheduler=None):
    state = torch.load(path, weights_only=True)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["rng"])
