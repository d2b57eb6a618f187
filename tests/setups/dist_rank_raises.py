"""Under torchrun, rank 1's forward raises at its third training step (rank 0 is then blocked in
DDP's gradient all-reduce): the run must end in seconds with an error naming rank 1."""

import os

import torch
from torch import nn

from dist_digits import lr, num_classes, train_loader, val_loader  # noqa: F401


class Flaky(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, num_classes))
        self.steps = 0

    def forward(self, x):
        if torch.is_grad_enabled() and self.training:
            self.steps += 1
            if os.environ.get("RANK") == "1" and self.steps == 3:
                raise RuntimeError("corrupt activation on this GPU")
        return self.net(x)


def model() -> nn.Module:
    return Flaky()
