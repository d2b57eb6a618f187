"""Bug: Keras' momentum convention (0.99, the weight of the old statistics) written into PyTorch,
where momentum weighs the new batch: the running statistics follow the last batch alone (DLC510)."""

import sys
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "zoo"))
from _data import standardised  # noqa: E402

X, y = standardised("digits")
images = X.view(-1, 1, 8, 8)


class DigitNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16, momentum=0.99), nn.ReLU(),
            nn.Conv2d(16, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32, momentum=0.99), nn.ReLU(),
            nn.AdaptiveAvgPool2d(2))
        self.head = nn.Linear(32 * 4, 10)

    def forward(self, x):
        return self.head(self.features(x).flatten(1))


model = DigitNet
train_loader = lambda: DataLoader(TensorDataset(images[:1200], y[:1200]), batch_size=64, shuffle=True,
                                  generator=torch.Generator().manual_seed(0))
val_loader = lambda: DataLoader(TensorDataset(images[1200:], y[1200:]), batch_size=128)
