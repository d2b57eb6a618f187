"""Healthy: digit rows as 8 time steps into an encoder whose LSTM is batch_first, inside a bigger model."""

import torch
from torch import nn
from tryfix_data import loader, rows

num_classes = 10
lr = 3e-3
X, y = rows()


class Encoder(nn.Module):
    def __init__(self, batch_first=True):
        super().__init__()
        self.proj = nn.Linear(8, 32)
        self.rnn = nn.LSTM(32, 32, batch_first=batch_first)

    def forward(self, x):
        out, _ = self.rnn(torch.relu(self.proj(x)))
        return out.mean(1) if self.rnn.batch_first else out.mean(0)


class Classifier(nn.Module):
    def __init__(self, batch_first=True):
        super().__init__()
        self.encoder = Encoder(batch_first)
        self.head = nn.Sequential(nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 10))

    def forward(self, x):
        return self.head(self.encoder(x))


model = Classifier
train_loader = lambda: loader(X, y, batch_size=32)
