"""curves, planted: an MLP on scikit-learn's digits whose optimizer carries its own learning-rate
schedule, a warm restart at step 120, and the restart's peak was typed 50x too high: for 5 steps
Adam runs at 5e-2 instead of 1e-3, and the training loss spikes there."""

import torch
from _curves20_data import train_loader as _train, val_loader  # noqa: F401
from torch import nn

lr = 1e-3
RESTART, LENGTH, PEAK = 120, 5, 50.0


class RestartedAdam(torch.optim.Adam):
    """Adam with a warm restart: the LR is ``peak`` times the base LR for ``length`` steps from ``at``."""

    def __init__(self, params, lr, at=RESTART, length=LENGTH, peak=PEAK):
        super().__init__(params, lr=lr)
        self.base, self.at, self.length, self.peak, self.count = lr, at, length, peak, 0

    def step(self, closure=None):
        self.count += 1
        factor = self.peak if self.at <= self.count < self.at + self.length else 1.0
        for group in self.param_groups:
            group["lr"] = self.base * factor
        return super().step(closure)


def model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 10))


def optimizer(params, lr):
    return RestartedAdam(params, lr)


def train_loader():
    return _train(1400, batch_size=64)
