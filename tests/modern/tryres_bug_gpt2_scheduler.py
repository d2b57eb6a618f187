"""Bug: the tiny GPT-2 of tryres_gpt2, whose save_checkpoint keeps the model, the optimizer and the
RNG states but forgets the warm-up + cosine scheduler: the resumed run warms up again."""

import random

import numpy as np
import torch
from tryres_gpt2 import causal, lr, model, optimizer, scheduler, train_loader, val_loader  # noqa: F401


def save_checkpoint(path, model, optimizer, scheduler=None):
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),  # the bug: no scheduler
                "rng": {"python": random.getstate(), "numpy": np.random.get_state(), "cpu": torch.get_rng_state()}},
               path)


def load_checkpoint(path, model, optimizer, scheduler=None):
    ckpt = torch.load(path, weights_only=False)
    model.load_state_dict(ckpt["model"])
    optimizer.load_state_dict(ckpt["optimizer"])
    random.setstate(ckpt["rng"]["python"])
    np.random.set_state(ckpt["rng"]["numpy"])
    torch.set_rng_state(ckpt["rng"]["cpu"])
