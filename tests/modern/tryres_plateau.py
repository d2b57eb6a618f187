"""Trial: a digits CNN with BatchNorm and SGD with momentum whose LR is cut by ReduceLROnPlateau
(its step takes the metric: dlcheck gives it the training loss), with a short patience so the cut
falls inside the steps the check compares; the target's own checkpoint functions."""

import torch
from tryres_onecycle_clip import lr, model, num_classes, train_loader, val_loader  # noqa: F401


def optimizer(params, lr):
    return torch.optim.SGD(params, lr=lr, momentum=0.9)


def scheduler(optimizer):
    return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=1, threshold=0.5)


def save_checkpoint(path, model, optimizer, scheduler=None):
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(), "rng": torch.get_rng_state()}, path)


def load_checkpoint(path, model, optimizer, scheduler=None):
    ckpt = torch.load(path, weights_only=True)
    model.load_state_dict(ckpt["model"])
    optimizer.load_state_dict(ckpt["optimizer"])
    scheduler.load_state_dict(ckpt["scheduler"])
    torch.set_rng_state(ckpt["rng"])
