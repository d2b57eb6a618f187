"""Bug seen only in a fresh process: random Fourier features drawn once per process, cached at
module level so every model built shares them, and registered as a non-persistent buffer ("fixed,
not learned: no need to save it"). In the process that trained, a rebuilt model finds the cache
and resumes exactly; a new process draws other features, and the checkpoint does not hold them."""

import torch
from _resume_data import train_loader, val_loader  # noqa: F401
from torch import nn

num_classes = 10
lr = 1e-3
_FEATURES: dict[str, torch.Tensor] = {}


def fourier_features() -> torch.Tensor:
    if "projection" not in _FEATURES:
        _FEATURES["projection"] = torch.randn(64, 64) / 8
    return _FEATURES["projection"]


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("projection", fourier_features(), persistent=False)  # the bug
        self.body = nn.Sequential(nn.Linear(128, 128), nn.ReLU(), nn.Dropout(0.2), nn.Linear(128, 10))

    def forward(self, x):
        z = x @ self.projection
        return self.body(torch.cat([torch.sin(z), torch.cos(z)], dim=1))


model = Net
