"""Healthy: a GoogLeNet-style CNN on scikit-learn's digits (8x8 images) with an auxiliary
classifier: in train mode it returns (main_logits, aux_logits), in eval mode main_logits only,
and the loss is CE(main) + 0.3 * CE(aux), as torchvision's GoogLeNet / Inception-v3 are trained."""

import torch
from _taskdata import tabular
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

X, y = tabular("digits")
X = X[:800].reshape(-1, 1, 8, 8)
y = y[:800]
lr = 1e-3
# a custom loss: dlcheck cannot tell its task from it, so the target says which references apply
task = "classification"


class AuxNet(nn.Module):
    def __init__(self, classes: int = 10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
                                  nn.Conv2d(32, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU())
        self.aux = nn.Sequential(nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(64 * 4, classes))
        self.body = nn.Sequential(nn.MaxPool2d(2), nn.Conv2d(64, 64, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(64), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        h = self.stem(x)
        main = self.fc(self.body(h))
        if self.training:
            return main, self.aux(h)
        return main


def loss_fn(outputs, y):
    if isinstance(outputs, tuple):
        main, aux = outputs
        return F.cross_entropy(main, y) + 0.3 * F.cross_entropy(aux, y)
    return F.cross_entropy(outputs, y)


model = AuxNet


def train_loader():
    return DataLoader(TensorDataset(X[:640], y[:640]), batch_size=32, shuffle=True,
                      generator=torch.Generator().manual_seed(0))


def val_loader():
    return DataLoader(TensorDataset(X[640:], y[640:]), batch_size=32)
