"""Bad input: save_checkpoint treats `path` as a folder that exists (os.path.join(path, ...)), so
torch.save raises FileNotFoundError."""

import os

import torch
from tryres_onecycle_clip import lr, model, num_classes, train_loader, val_loader  # noqa: F401


def save_checkpoint(path, model, optimizer):
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict()}, os.path.join(path, "last.pt"))


def load_checkpoint(path, model, optimizer):
    ckpt = torch.load(os.path.join(path, "last.pt"), weights_only=True)
    model.load_state_dict(ckpt["model"])
    optimizer.load_state_dict(ckpt["optimizer"])
