"""Under torchrun, one rank is killed with SIGKILL mid-check (no Python handler runs, no error is
posted): the rank named by $DLCHECK_TEST_KILL_RANK (default: none, a healthy set-up) kills itself
at its third training step of overfit-small, while the other ranks wait in DDP's all-reduce."""

import os
import signal

import torch
from torch import nn

from dist_digits import lr, num_classes, train_loader, val_loader  # noqa: F401


class Mortal(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, num_classes))
        self.steps = 0

    def forward(self, x):
        if torch.is_grad_enabled() and self.training:
            self.steps += 1
            if os.environ.get("RANK") == os.environ.get("DLCHECK_TEST_KILL_RANK") and self.steps == 3:
                os.kill(os.getpid(), signal.SIGKILL)
        return self.net(x)


def model() -> nn.Module:
    return Mortal()
