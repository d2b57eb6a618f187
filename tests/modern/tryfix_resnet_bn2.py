"""Bug: resnet18 (BatchNorm everywhere) trained at batch size 2 (DLC506)."""

import torchvision
from tryfix_data import crops, loader

num_classes = 10
lr = 1e-3
X, y = crops(64)

model = lambda: torchvision.models.resnet18(weights=None, num_classes=10)
train_loader = lambda: loader(X, y, batch_size=2)
