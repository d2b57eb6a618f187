"""Healthy multi-task: one trunk over digits' 64 pixels, two heads: the digit (10 logits,
CrossEntropy) and the image's mean ink intensity (one value, MSE on the standardised
intensity). training_step returns CE + 0.5 * MSE, the way multi-task losses are usually summed."""

import torch
from _trymulti_data import digits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

lr = 1e-3
X, Y, INTENSITY = digits()
TRAIN = TensorDataset(X[:1400], Y[:1400], INTENSITY[:1400])
VAL = TensorDataset(X[1400:], Y[1400:], INTENSITY[1400:])
REG_WEIGHT = 0.5


class TwoHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU())
        self.cls = nn.Linear(64, 10)
        self.reg = nn.Linear(64, 1)

    def forward(self, x):
        h = self.trunk(x)
        return self.cls(h), self.reg(h).squeeze(-1)


model = TwoHeads


def train_loader():
    return DataLoader(TRAIN, batch_size=64, shuffle=True, generator=torch.Generator().manual_seed(0))


def val_loader():
    return DataLoader(VAL, batch_size=128)


def training_step(model, batch):
    x, y, intensity = batch
    logits, value = model(x)
    return nn.functional.cross_entropy(logits, y) + REG_WEIGHT * nn.functional.mse_loss(value, intensity)
