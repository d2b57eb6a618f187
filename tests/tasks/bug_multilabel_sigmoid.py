"""Bug: the multi-label MLP ends in Sigmoid and the loss is BCEWithLogitsLoss (sigmoid applied
twice): outputs are already probabilities, the loss cannot approach zero."""

import torch
from ok_multilabel_digits import X, Y, loss_fn, lr  # noqa: F401  (the healthy set-up's data and loss)
from ok_multilabel_digits import model as healthy_model
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def model():
    return nn.Sequential(*healthy_model(), nn.Sigmoid())


def train_loader():
    return DataLoader(TensorDataset(X, Y), batch_size=64, shuffle=True,
                      generator=torch.Generator().manual_seed(0))
