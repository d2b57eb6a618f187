"""Healthy: torchvision.transforms.v2 flips and crops the image and its mask together (the
dataset hands the pipeline the mask as a tv_tensors.Mask; Normalize leaves masks alone)."""

import torch
from _maskaug_data import IMAGES, MASKS, MEAN, NUM_CLASSES, STD, ShapesSegmentation
from maskaug_bug_image_only_flip import model  # noqa: F401  (the same small FCN)
from torch.utils.data import DataLoader
from torchvision.transforms import v2

num_classes = NUM_CLASSES
lr = 3e-3

train_transforms = v2.Compose([v2.RandomHorizontalFlip(), v2.RandomCrop(32, padding=4, padding_mode="reflect"),
                               v2.Normalize(MEAN, STD)])
val_transforms = v2.Normalize(MEAN, STD)


def train_loader():
    return DataLoader(ShapesSegmentation(IMAGES[:192], MASKS[:192], transforms=train_transforms), batch_size=16,
                      shuffle=True, generator=torch.Generator().manual_seed(0))


def val_loader():
    return DataLoader(ShapesSegmentation(IMAGES[192:], MASKS[192:], transforms=val_transforms), batch_size=16)
