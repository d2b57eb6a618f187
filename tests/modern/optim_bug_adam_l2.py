"""Bug: weight decay handed to Adam, where AdamW was meant (Adam adds it to the gradient as an L2
term, which its adaptive step then scales away for parameters with large gradients)."""

import torch
from _optim_data import loaders, mlp

lr = 1e-3
model = mlp
train_loader, val_loader = loaders()


def optimizer(params, lr):
    return torch.optim.Adam(params, lr=lr, weight_decay=1e-2)  # the bug: coupled L2, not AdamW's decay
