"""Healthy: photometric augmentation only (colour jitter, then Normalize) on the image alone:
the shapes stay where they are, so the masks need no change."""

import torch
from _maskaug_data import IMAGES, MASKS, MEAN, NUM_CLASSES, STD, ShapesSegmentation
from maskaug_bug_image_only_flip import model  # noqa: F401  (the same small FCN)
from torch.utils.data import DataLoader
from torchvision import transforms as T

num_classes = NUM_CLASSES
lr = 3e-3

train_transform = T.Compose([T.ColorJitter(brightness=0.3, contrast=0.3, saturation=0.3, hue=0.05),
                             T.Normalize(MEAN, STD)])
val_transform = T.Normalize(MEAN, STD)


def train_loader():
    return DataLoader(ShapesSegmentation(IMAGES[:192], MASKS[:192], transform=train_transform), batch_size=16,
                      shuffle=True, generator=torch.Generator().manual_seed(0))


def val_loader():
    return DataLoader(ShapesSegmentation(IMAGES[192:], MASKS[192:], transform=val_transform), batch_size=16)
