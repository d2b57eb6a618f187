"""Bug the advised fix does not help: a fixed offset buffer of +30 on class 0 is added after the
final layer, so the initial loss is far above ln(10) (DLC101) whatever the final layer's weights:
scaling them down and zeroing the bias (the catalogued fix) leaves the finding in place."""

import sys
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "zoo"))
from _data import loader, standardised  # noqa: E402

X, y = standardised("digits")


class OffsetNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(64, 128)
        self.out = nn.Linear(128, 10)
        self.register_buffer("offset", torch.tensor([30.0] + [0.0] * 9))  # the bug: a large fixed prior

    def forward(self, x):
        return self.out(torch.relu(self.hidden(x))) + self.offset


model = OffsetNet
train_loader = lambda: loader(X, y)
