"""Healthy: a character-level GRU language model over the DESCR texts of scikit-learn's
datasets; outputs (B, T, V) flattened by forward() to (B*T, V) against (B*T,), CrossEntropyLoss."""

import torch
from _charlm import CharGRU, forward, windows  # noqa: F401  (forward is part of the set-up)
from torch.utils.data import DataLoader, TensorDataset

lr = 3e-3
INPUTS, TARGETS = windows(320)
VAL_INPUTS, VAL_TARGETS = windows(64, seed=1)
model = CharGRU


def train_loader():
    return DataLoader(TensorDataset(INPUTS, TARGETS), batch_size=32, shuffle=True,
                      generator=torch.Generator().manual_seed(0))


def val_loader():
    return DataLoader(TensorDataset(VAL_INPUTS, VAL_TARGETS), batch_size=32)
