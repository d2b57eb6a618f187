"""Planted bug (twin of targets_distill): the digit labels were shuffled against their images
(say, a sort applied to one array only); the teacher logits still belong to them."""

import torch
from targets_distill import TEACHER, T, forward, loss_fn, lr, model, num_classes, task  # noqa: F401
from _targets_data import X_TRAIN, Y_TRAIN
from torch.utils.data import DataLoader, TensorDataset

Y_SHUFFLED = Y_TRAIN[torch.randperm(len(Y_TRAIN), generator=torch.Generator().manual_seed(5))]


def train_loader():
    return DataLoader(TensorDataset(X_TRAIN, Y_SHUFFLED, TEACHER), batch_size=64, shuffle=True,
                      generator=torch.Generator().manual_seed(0))
