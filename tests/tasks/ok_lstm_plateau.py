"""Healthy: a 2-layer LSTM sequence classifier (batch_first=True) whose class is written only at
the start of the sequence; at lr 3e-3 its loss sits near ln(4) for a while before it learns."""

import torch
from _sequences import C, D, sequences
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

lr = 3e-3
X, y = sequences(448)


class LSTMClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(D, 64, num_layers=2, batch_first=True)
        self.head = nn.Linear(64, C)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.head(out[:, -1])


model = LSTMClassifier


def train_loader():
    return DataLoader(TensorDataset(X[:384], y[:384]), batch_size=32, shuffle=True,
                      generator=torch.Generator().manual_seed(0))


def val_loader():
    return DataLoader(TensorDataset(X[384:], y[384:]), batch_size=32)
