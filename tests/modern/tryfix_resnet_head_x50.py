"""Bug: resnet18's replaced head multiplied by 50 ("make the logits confident"): DLC101."""

import torch
import torchvision
from torch import nn
from tryfix_data import crops, loader

num_classes = 10
lr = 1e-3
X, y = crops()


def model():
    net = torchvision.models.resnet18(weights=None)
    net.fc = nn.Linear(net.fc.in_features, 10)
    with torch.no_grad():
        net.fc.weight.mul_(50)  # the bug
        net.fc.bias.uniform_(-5, 5)
    return net


train_loader = lambda: loader(X, y, batch_size=32)
