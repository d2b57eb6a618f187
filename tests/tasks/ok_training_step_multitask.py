"""Healthy: a set-up whose loss is not loss_fn(outputs, targets): a two-headed MLP on digits
(classify the digit, reconstruct the image), trained by the target's training_step(model, batch)
-> {"loss": cross-entropy + 0.5 x reconstruction MSE}, Lightning's meaning. dlcheck judges the
loss alone: its floor is unknown, so overfit-small reads the loss's own course."""

import torch
import torch.nn.functional as F
from _taskdata import tabular
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

X, y = tabular("digits")
lr = 2e-3


class TwoHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU())
        self.classify = nn.Linear(64, 10)
        self.reconstruct = nn.Linear(64, 64)

    def forward(self, x):
        h = self.body(x)
        return self.classify(h), self.reconstruct(h)


model = TwoHeads


def training_step(model, batch):
    x, labels = batch
    logits, recon = model(x)
    return {"loss": F.cross_entropy(logits, labels) + 0.5 * F.mse_loss(recon, x)}


def train_loader():
    return DataLoader(TensorDataset(X[:1400], y[:1400]), batch_size=64, shuffle=True,
                      generator=torch.Generator().manual_seed(0))
