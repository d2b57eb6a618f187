"""Under torchrun, one rank is killed with SIGKILL mid-check (no Python handler runs, no error is
posted): the rank named by $DLCHECK_TEST_KILL_RANK (default: none, a healthy set-up) kills itself
at its third training step of overfit-small, while the other ranks wait in DDP's all-reduce. With
$DLCHECK_TEST_HOLD (a path) every rank instead touches that file at its third step and holds there
for 60 s (a run to cancel mid-check)."""

import os
import signal
import time
from pathlib import Path

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
            if os.environ.get("DLCHECK_TEST_HOLD") and self.steps == 3:
                Path(os.environ["DLCHECK_TEST_HOLD"]).touch()
                time.sleep(60)
        return self.net(x)


def model() -> nn.Module:
    return Mortal()
