"""Healthy: a small fully-convolutional segmentation net, outputs (B, 3, H, W) against masks
(B, H, W), per-pixel CrossEntropyLoss, on discs and squares drawn on noise."""

import torch
from _shapes import shapes
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

num_classes = 3
lr = 3e-3
IMAGES, MASKS = shapes()


def model():
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
        nn.Conv2d(8, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
        nn.Conv2d(16, 16, 3, padding=2, dilation=2, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
        nn.Conv2d(16, num_classes, 1),
    )


def train_loader():
    return DataLoader(TensorDataset(IMAGES[:192], MASKS[:192]), batch_size=16, shuffle=True,
                      generator=torch.Generator().manual_seed(0))


def val_loader():
    return DataLoader(TensorDataset(IMAGES[192:], MASKS[192:]), batch_size=16)
