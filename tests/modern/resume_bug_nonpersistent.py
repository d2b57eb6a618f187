"""Bug: a running input scale registered as a non-persistent buffer: the model updates it while
training, but state_dict() leaves it out, so a resumed model starts it over."""

from _resume_data import train_loader, val_loader  # noqa: F401
import torch
from torch import nn

num_classes = 10
lr = 1e-3


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
        self.register_buffer("scale", torch.ones(64), persistent=False)  # the bug: persistent=False

    def forward(self, x):
        if self.training:
            with torch.no_grad():
                self.scale.mul_(0.9).add_(0.1 * x.abs().mean(0).clamp_min(1e-3))
        return self.body(x / self.scale)


model = Net
