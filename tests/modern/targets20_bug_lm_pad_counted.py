"""Planted bug (DLC713): the same padded language model with a plain CrossEntropyLoss(): the
padding, 77 % of the target positions, is counted, so the model mostly learns to predict padding
after padding."""

from targets20_lm_pad_ignored import forward, lr, model, train_loader, val_loader  # noqa: F401
from torch import nn

loss_fn = nn.CrossEntropyLoss()
