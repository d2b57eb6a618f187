"""Bug: the LSTM is fed (batch, time, features) but built without batch_first=True: it runs over
the batch as if it were time, so each sample's output depends on the samples before it."""

import torch
from _sequences import C, D, sequences
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

lr = 3e-3
X, y = sequences(384)


class LSTMClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(D, 64, num_layers=2)  # batch_first forgotten
        self.head = nn.Linear(64, C)

    def forward(self, x):  # x: (B, T, D)
        out, _ = self.lstm(x)
        return self.head(out[:, -1])


model = LSTMClassifier


def train_loader():
    return DataLoader(TensorDataset(X, y), batch_size=32, shuffle=True,
                      generator=torch.Generator().manual_seed(0))
