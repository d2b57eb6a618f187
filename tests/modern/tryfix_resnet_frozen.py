"""Bug: the "fine-tuning" recipe copied onto a model with no pretrained weights: the randomly
initialised backbone frozen, only the new head trains (DLC204)."""

import torchvision
from torch import nn
from tryfix_data import crops, loader

num_classes = 10
lr = 1e-3
X, y = crops()


def model():
    net = torchvision.models.resnet18(weights=None)
    for p in net.parameters():
        p.requires_grad = False  # the bug: weights=None, nothing to keep
    net.fc = nn.Linear(net.fc.in_features, 10)
    return net


train_loader = lambda: loader(X, y, batch_size=32)
