"""Bug: resnet18's head ends in a Softmax, before CrossEntropyLoss (DLC203)."""

import torchvision
from torch import nn
from tryfix_data import crops, loader

num_classes = 10
lr = 1e-3
X, y = crops()


def model():
    net = torchvision.models.resnet18(weights=None)
    net.fc = nn.Sequential(nn.Linear(net.fc.in_features, 10), nn.Softmax(dim=1))  # the bug
    return net


train_loader = lambda: loader(X, y, batch_size=32)
loss_fn = nn.CrossEntropyLoss()
