"""Under torchrun, each rank seeds with its rank before building the model: the initial weights
differ between ranks (DLC011)."""

import os

import torch

from dist_digits import lr, num_classes, train_loader, val_loader  # noqa: F401
import dist_digits


def model():
    torch.manual_seed(1000 + int(os.environ.get("RANK", "0")))
    return dist_digits.model()
