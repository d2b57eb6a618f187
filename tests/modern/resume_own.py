"""Healthy: the digits MLP with dropout, a cosine LR schedule, and the target's own checkpointing
(model, optimizer, scheduler and the RNG states)."""

import torch
from _resume_data import mlp, train_loader, val_loader  # noqa: F401

num_classes = 10
lr = 1e-3
model = mlp


def scheduler(optimizer):
    return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=100)


def save_checkpoint(path, model, optimizer, scheduler=None):
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict() if scheduler else None, "rng": torch.get_rng_state()}, path)


def load_checkpoint(path, model, optimizer, scheduler=None):
    state = torch.load(path, weights_only=True)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None:
        scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["rng"])
