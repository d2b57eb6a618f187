"""Healthy: a 2-layer LSTM sequence classifier (batch_first=True). The class (one of 4) is written
only in the first 3 of 24 time steps, under noise; the rest is noise. The LSTM must carry it
through 21 steps, so its loss sits near ln 4 for a while before it learns (Adam at 3e-3)."""

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

T, D, C, N = 24, 8, 4, 384
_g = torch.Generator().manual_seed(0)
_patterns = torch.randn(C, 3, D, generator=torch.Generator().manual_seed(123))
Y = (torch.arange(N) % C)[torch.randperm(N, generator=_g)]
X = torch.randn(N, T, D, generator=_g)
X[:, :3] = _patterns[Y] + 0.5 * torch.randn(N, 3, D, generator=_g)

lr = 3e-3


class LSTMClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(D, 64, num_layers=2, batch_first=True)
        self.head = nn.Linear(64, C)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.head(out[:, -1])


model = LSTMClassifier
train_loader = lambda: DataLoader(TensorDataset(X, Y), batch_size=32, shuffle=True,
                                  generator=torch.Generator().manual_seed(0))
