"""Healthy: a hand-written joint transform, ``train_transform(image, mask)``, that flips the
image and its mask together and normalises the image."""

import random

import torch
from _maskaug_data import IMAGES, MASKS, MEAN, NUM_CLASSES, STD, ShapesSegmentation
from maskaug_bug_image_only_flip import model  # noqa: F401  (the same small FCN)
from torch.utils.data import DataLoader
from torchvision.transforms import functional as TF

num_classes = NUM_CLASSES
lr = 3e-3


def train_transform(image, mask):
    if random.random() < 0.5:
        image, mask = TF.hflip(image), TF.hflip(mask)
    if random.random() < 0.5:
        image, mask = TF.vflip(image), TF.vflip(mask)
    return TF.normalize(image, MEAN, STD), mask


def val_transform(image, mask):
    return TF.normalize(image, MEAN, STD), mask


def train_loader():
    return DataLoader(ShapesSegmentation(IMAGES[:192], MASKS[:192], transforms=train_transform), batch_size=16,
                      shuffle=True, generator=torch.Generator().manual_seed(0))


def val_loader():
    return DataLoader(ShapesSegmentation(IMAGES[192:], MASKS[192:], transforms=val_transform), batch_size=16)
