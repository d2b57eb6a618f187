"""Bug: the ReduceLROnPlateau set-up of tryres_plateau, whose save_checkpoint forgets the scheduler:
the resumed plateau counter and best loss start over, so the LR cut comes at another step."""

import torch
from tryres_plateau import lr, model, num_classes, optimizer, scheduler, train_loader, val_loader  # noqa: F401


def save_checkpoint(path, model, optimizer, scheduler=None):
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "rng": torch.get_rng_state()},
               path)


def load_checkpoint(path, model, optimizer, scheduler=None):
    ckpt = torch.load(path, weights_only=True)
    model.load_state_dict(ckpt["model"])
    optimizer.load_state_dict(ckpt["optimizer"])
    torch.set_rng_state(ckpt["rng"])
