"""Bug: a BatchNorm CNN trained with batch size 2."""

import torch
from _data import standardised
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

X, y = standardised("digits")
images = X.view(-1, 1, 8, 8)
model = lambda: nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                              nn.Flatten(), nn.Linear(16 * 64, 10))
train_loader = lambda: DataLoader(TensorDataset(images, y), batch_size=2, shuffle=True,
                                  generator=torch.Generator().manual_seed(0))
