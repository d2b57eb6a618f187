"""Healthy: a small GRU language model over padded sequences (77 % of the target positions are
padding), trained with CrossEntropyLoss(ignore_index=PAD): the padding costs nothing."""

import torch
from _targets20_data import PAD, X_TRAIN, X_VAL, Y_TRAIN, Y_VAL, TinyLM
from _targets20_data import lm_forward as forward  # noqa: F401  (part of the set-up)
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

lr = 3e-3
model = TinyLM
loss_fn = nn.CrossEntropyLoss(ignore_index=PAD)


def train_loader():
    return DataLoader(TensorDataset(X_TRAIN, Y_TRAIN), batch_size=32, shuffle=True,
                      generator=torch.Generator().manual_seed(0))


def val_loader():
    return DataLoader(TensorDataset(X_VAL, Y_VAL), batch_size=32)
