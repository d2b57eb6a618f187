"""Bad input: load_checkpoint takes (model, path), not dlcheck's (path, model, optimizer)."""

import torch
from tryres_onecycle_clip import lr, model, num_classes, train_loader, val_loader  # noqa: F401


def save_checkpoint(path, model, optimizer):
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict()}, path)


def load_checkpoint(model, path):
    model.load_state_dict(torch.load(path, weights_only=True)["model"])
