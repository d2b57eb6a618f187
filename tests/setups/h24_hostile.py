"""A digits MLP whose layers carry hostile names (rich markup, HTML): every report must show them
as text. The last layer's weights are 30x too large, so init-stats and init-loss name it."""

import torch
from torch import nn

from _digits import X_TRAIN, Y_TRAIN
from torch.utils.data import DataLoader, TensorDataset

NAMES = ("[/]", "[bold red]x[/bold red]", "<img src=x onerror=alert(1)>")

Hostile = type("<script>alert(1)</script>", (nn.Linear,), {})


def model():
    net = nn.Sequential()
    net.add_module(NAMES[0], nn.Linear(64, 32))
    net.add_module(NAMES[1], nn.ReLU())
    net.add_module(NAMES[2], Hostile(32, 10))
    with torch.no_grad():
        net[2].weight.mul_(30)
    return net


train_loader = DataLoader(TensorDataset(X_TRAIN, Y_TRAIN), batch_size=64, shuffle=True,
                          generator=torch.Generator().manual_seed(0))
