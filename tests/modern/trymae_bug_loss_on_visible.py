"""Planted bug in trymae_digits: the loss is taken on the visible patches (1 - mask) instead of
the masked ones, the patches the encoder sees. Nothing raises and the loss falls fast towards 0:
the model learns to copy its 4 visible patches and nothing about the 12 it must reconstruct."""

from trymae_digits import (lr, masked_mse, model, optimizer, patchify, random_masking,  # noqa: F401
                           train_loader, val_loader)


def training_step(model, batch):
    (x,) = batch
    ids_shuffle, mask = random_masking(x.shape[0], x.device)
    return masked_mse(model(x, ids_shuffle), patchify(x), 1 - mask)  # the bug: 1 - mask
