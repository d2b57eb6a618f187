"""Bug: a custom init that draws the classifier's weights from N(0, 1): logits far too large."""

import torch
from _data import loader, standardised
from torch import nn

X, y = standardised("digits")


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(64, 256)
        self.out = nn.Linear(256, 10)
        nn.init.normal_(self.out.weight, std=1.0)  # the bug: should be ~1/sqrt(256)

    def forward(self, x):
        return self.out(torch.relu(self.hidden(x)))


model = Net
train_loader = lambda: loader(X, y)
