"""A digits MLP with an auxiliary head left over from an experiment: built in __init__, never used
in forward. Its parameters are in the optimizer but never get a gradient (a DDP run stops with its
unused-parameter error)."""

from _optim_data import loaders
from torch import nn

lr = 1e-3
train_loader, val_loader = loaders()


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU())
        self.head = nn.Linear(128, 10)
        self.aux_head = nn.Linear(128, 10)  # the leftover: no longer called in forward

    def forward(self, x):
        return self.head(self.body(x))


model = Net
