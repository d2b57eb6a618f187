"""Healthy: multi-label digits (the digit one-hot plus four properties, 1-4 labels on per row) with
BCEWithLogitsLoss: one independent sigmoid per label."""

import torch
from _targets20_data import MH_X_TRAIN, MH_X_VAL, MH_Y_TRAIN, MH_Y_VAL, mlp
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

lr = 1e-3
model = mlp
loss_fn = nn.BCEWithLogitsLoss()


def train_loader():
    return DataLoader(TensorDataset(MH_X_TRAIN, MH_Y_TRAIN), batch_size=64, shuffle=True,
                      generator=torch.Generator().manual_seed(0))


def val_loader():
    return DataLoader(TensorDataset(MH_X_VAL, MH_Y_VAL), batch_size=64)
