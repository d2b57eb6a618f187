"""Data for the tryfc set-ups (time-series forecasting): an honest small synthetic multivariate
series, built here with a fixed seed (scikit-learn bundles no time series). Three channels, each a
sum of two sines of different periods, a slow linear trend and Gaussian noise; windows of LOOKBACK
past steps predict the next HORIZON steps of every channel; the split is by time (validation
windows come from the last part of the series, after every training window). Named _tryfc_data so
that it never collides with other set-ups' helpers."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

LOOKBACK = 48
HORIZON = 8
CHANNELS = 3
LENGTH = 2400
SPLIT = 1900  # steps [0, SPLIT) feed training windows, the rest validation windows
STRIDE = 2


def series(length: int = LENGTH, seed: int = 0) -> torch.Tensor:
    """FloatTensor (length, CHANNELS), standardised with the training part's mean and std."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(length, dtype=torch.float32)
    periods = ((24.0, 7.0), (36.0, 11.0), (50.0, 17.0))
    cols = []
    for c, (p1, p2) in enumerate(periods):
        phase = 2 * math.pi * torch.rand(2, generator=g)
        wave = torch.sin(2 * math.pi * t / p1 + phase[0]) + 0.5 * torch.sin(2 * math.pi * t / p2 + phase[1])
        trend = (0.4 + 0.2 * c) * t / length
        cols.append(wave + trend + 0.15 * torch.randn(length, generator=g))
    x = torch.stack(cols, 1)
    mean, std = x[:SPLIT].mean(0), x[:SPLIT].std(0)
    return (x - mean) / std


def windows(x: torch.Tensor, start: int, stop: int, shift: int = 0):
    """(inputs (n, LOOKBACK, C), targets (n, HORIZON, C)) cut from steps [start, stop) with STRIDE:
    the input is x[i : i+LOOKBACK], the target the HORIZON steps after it. ``shift`` moves the
    input window forward by that many steps (shift=HORIZON: the off-by-H slice whose input ends
    with the very values it must predict)."""
    xs, ys = [], []
    for i in range(start, stop - LOOKBACK - HORIZON + 1, STRIDE):
        xs.append(x[i + shift:i + shift + LOOKBACK])
        ys.append(x[i + LOOKBACK:i + LOOKBACK + HORIZON])
    return torch.stack(xs), torch.stack(ys)


class LSTMForecaster(nn.Module):
    """An LSTM over the window; a linear head maps its last hidden state to HORIZON x CHANNELS,
    added to the window's last value (the forecast is a correction of the naive one)."""

    def __init__(self, hidden: int = 64):
        super().__init__()
        self.lstm = nn.LSTM(CHANNELS, hidden, batch_first=True)
        self.head = nn.Linear(hidden, HORIZON * CHANNELS)

    def forward(self, x):
        h, _ = self.lstm(x)
        delta = self.head(h[:, -1]).view(-1, HORIZON, CHANNELS)
        return x[:, -1:, :] + delta


def loaders(shift: int = 0, batch_size: int = 64):
    x = series()
    train = TensorDataset(*windows(x, 0, SPLIT, shift))
    val = TensorDataset(*windows(x, SPLIT - LOOKBACK, LENGTH, shift))
    return (DataLoader(train, batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(0)),
            DataLoader(val, batch_size=batch_size))
