"""Healthy twin of tryfix_groups_lr_low: a small CNN whose optimizer has param groups, the backbone at
a tenth of the head's LR."""

import torch
from torch import nn
from tryfix_data import crops, loader

num_classes = 10
lr = 3e-3
X, y = crops()


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.ReLU(),
                                      nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(),
                                      nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(32, 10)

    def forward(self, x):
        return self.head(self.backbone(x))


model = Net
_params = None


def optimizer(params, lr):
    params = list(params)
    head = params[-2:]  # head.weight, head.bias: the last parameters Net registers
    rest = params[:-2]
    return torch.optim.Adam([{"params": rest, "lr": lr / 10}, {"params": head, "lr": lr}], lr=lr)


train_loader = lambda: loader(X, y, batch_size=32)
