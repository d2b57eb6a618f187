"""Bug: a running input scale kept as a plain tensor attribute (not a buffer): the model updates
it while training, but state_dict() does not hold it, so a resumed model starts it over."""

import torch
from _resume_data import train_loader, val_loader  # noqa: F401
from torch import nn

num_classes = 10
lr = 1e-3


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
        self.scale = torch.ones(64)  # the bug: register_buffer("scale", torch.ones(64)) was meant

    def forward(self, x):
        if self.training:
            self.scale = 0.9 * self.scale.to(x.device) + 0.1 * x.detach().abs().mean(0).clamp_min(1e-3)
        return self.body(x / self.scale.to(x.device))


model = Net
