"""Healthy: a small CNN on digits (8x8 images), handed over compiled with torch.compile, as
PyTorch 2 users write it. (backend="eager": dynamo traces the model, no C compiler needed; the
default inductor backend behaves the same for dlcheck, only slower to compile.)"""

import torch
from _modules_data import loaders
from torch import nn

lr = 1e-3
train_loader, val_loader = loaders()


class CNN(nn.Module):
    def __init__(self, classes: int = 10):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
                                      nn.Conv2d(16, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
                                      nn.MaxPool2d(2), nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(),
                                      nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(32, classes)

    def forward(self, x):
        return self.fc(self.features(x))


def model():
    return torch.compile(CNN(), backend="eager")
