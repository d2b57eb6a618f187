"""Healthy, as a new user writes it: digits with CrossEntropyLoss(label_smoothing=0.1) and AdamW
at 1e-3. The loss cannot fall below the smoothed targets' entropy (0.50 for 10 classes)."""

import torch
from _digits import X_TRAIN, Y_TRAIN, mlp
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

lr = 1e-3
loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)
optimizer = lambda params, lr: torch.optim.AdamW(params, lr=lr)
model = mlp
train_loader = lambda: DataLoader(TensorDataset(X_TRAIN, Y_TRAIN), batch_size=64, shuffle=True,
                                  generator=torch.Generator().manual_seed(0))
