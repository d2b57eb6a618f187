"""Healthy: a small BatchNorm CNN on digits as 1x8x8 images, a class-based model."""

import torch
from _data import standardised
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

X, y = standardised("digits")
images = X.view(-1, 1, 8, 8)


class DigitNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
            nn.Conv2d(16, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
            nn.AdaptiveAvgPool2d(2),
        )
        self.head = nn.Linear(32 * 4, 10)

    def forward(self, x):
        return self.head(self.features(x).flatten(1))


model = DigitNet
train_loader = lambda: DataLoader(TensorDataset(images[:1200], y[:1200]), batch_size=64, shuffle=True,
                                  generator=torch.Generator().manual_seed(0))
val_loader = lambda: DataLoader(TensorDataset(images[1200:], y[1200:]), batch_size=128)
