"""Bug: the dataset's transform flips and crops the image only; the mask stays as it was, so
about half of the masks no longer lie on their shapes."""

import torch
from _maskaug_data import IMAGES, MASKS, MEAN, NUM_CLASSES, STD, ShapesSegmentation
from torch import nn
from torch.utils.data import DataLoader
from torchvision import transforms as T

num_classes = NUM_CLASSES
lr = 3e-3

train_transform = T.Compose([T.RandomHorizontalFlip(), T.RandomCrop(32, padding=4, padding_mode="reflect"),
                             T.Normalize(MEAN, STD)])
val_transform = T.Normalize(MEAN, STD)


def model():
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
        nn.Conv2d(8, 12, 3, padding=2, dilation=2, bias=False), nn.BatchNorm2d(12), nn.ReLU(),
        nn.Conv2d(12, 12, 3, padding=4, dilation=4, bias=False), nn.BatchNorm2d(12), nn.ReLU(),
        nn.Conv2d(12, num_classes, 1),
    )


def train_loader():
    return DataLoader(ShapesSegmentation(IMAGES[:192], MASKS[:192], train_transform), batch_size=16,
                      shuffle=True, generator=torch.Generator().manual_seed(0))


def val_loader():
    return DataLoader(ShapesSegmentation(IMAGES[192:], MASKS[192:], val_transform), batch_size=16)
