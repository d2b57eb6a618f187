"""Bug: tanh units with N(0, 1) weights: saturated at +-1."""

import torch.nn.functional as F
from _data import loader, standardised
from torch import nn

X, y = standardised("digits")


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(64, 256)
        self.fc2 = nn.Linear(256, 256)
        self.fc3 = nn.Linear(256, 10)
        for fc in (self.fc1, self.fc2):
            nn.init.normal_(fc.weight, 0.0, 1.0)

    def forward(self, x):
        return self.fc3(F.tanh(self.fc2(F.tanh(self.fc1(x)))))  # functional tanh: no module to hook


model = Net
train_loader = lambda: loader(X, y)
