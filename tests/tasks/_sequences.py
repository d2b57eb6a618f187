"""A sequence task with a long-range dependency: the class (one of 4) is written only in the first
three of 24 time steps (a class-specific pattern under noise); the other steps are noise. An LSTM
must carry it through 21 steps of noise: it plateaus near ln(4) before it learns."""

from __future__ import annotations

import torch

T, D, C = 24, 8, 4


def sequences(n: int = 384, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    patterns = torch.randn(C, 3, D, generator=torch.Generator().manual_seed(123))
    labels = torch.arange(n) % C
    labels = labels[torch.randperm(n, generator=g)]
    x = torch.randn(n, T, D, generator=g)
    x[:, :3] = patterns[labels] + 0.5 * torch.randn(n, 3, D, generator=g)
    return x, labels
