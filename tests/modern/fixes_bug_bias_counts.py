"""Bug: the output bias set to the class counts instead of the log label prior (the recipe's
"init the bias to the prior", half done): class 0's logit is 88 above class 1's, every sample is
predicted as class 0 with confidence 1 (DLC105) and the initial loss is broken (DLC101)."""

import torch
from _fixes_data import COUNTS, X, loader, y
from torch import nn

num_classes = 3


def model():
    net = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 3))
    with torch.no_grad():
        net[2].bias.copy_(COUNTS.float())  # the bug: meant (COUNTS / COUNTS.sum()).log()
    return net


train_loader = lambda: loader(X[:240], y[:240], batch_size=32)
