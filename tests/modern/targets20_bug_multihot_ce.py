"""Planted bug (DLC714): the same multi-hot digit labels (1-4 ones per row) given to
CrossEntropyLoss, which torch accepts as class probabilities: softmax makes the labels compete."""

from targets20_multihot_bce import lr, model, train_loader, val_loader  # noqa: F401
from torch import nn

loss_fn = nn.CrossEntropyLoss()
