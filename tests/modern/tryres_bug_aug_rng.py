"""Bug: the photo-crop CNN with dropout of tryres_aug_workers (random v2 augmentation,
num_workers=2), whose own checkpoint functions save the model and the optimizer but no RNG state:
the resumed run draws other dropout masks (and its workers other augmentations)."""

import torch
from tryres_aug_workers import lr, model, num_classes, train_loader, val_loader  # noqa: F401


def save_checkpoint(path, model, optimizer):
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict()}, path)


def load_checkpoint(path, model, optimizer):
    ckpt = torch.load(path, weights_only=True)
    model.load_state_dict(ckpt["model"])
    optimizer.load_state_dict(ckpt["optimizer"])
