"""Bug: X and y shuffled separately (the `X.shuffle(); Y.shuffle()` bug): labels no longer match."""

import numpy as np
import torch
from _data import standardised
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

X, y = standardised("digits")
X, y = X.numpy().copy(), y.numpy().copy()
np.random.default_rng(1).shuffle(X)
np.random.default_rng(2).shuffle(y)
model = lambda: nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
train_loader = lambda: DataLoader(TensorDataset(torch.from_numpy(X), torch.from_numpy(y)), batch_size=64,
                                  shuffle=True, generator=torch.Generator().manual_seed(0))
