"""Trial: own checkpoint functions whose fourth parameter is called lr_scheduler (not scheduler),
as many training scripts name it; the digits CNN of tryres_onecycle_clip with OneCycleLR."""

import torch
from tryres_onecycle_clip import lr, model, num_classes, optimizer, scheduler, train_loader, val_loader  # noqa: F401


def save_checkpoint(path, model, optimizer, lr_scheduler):
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "lr_scheduler": lr_scheduler.state_dict(), "rng": torch.get_rng_state()}, path)


def load_checkpoint(path, model, optimizer, lr_scheduler):
    ckpt = torch.load(path, weights_only=True)
    model.load_state_dict(ckpt["model"])
    optimizer.load_state_dict(ckpt["optimizer"])
    lr_scheduler.load_state_dict(ckpt["lr_scheduler"])
    torch.set_rng_state(ckpt["rng"])
