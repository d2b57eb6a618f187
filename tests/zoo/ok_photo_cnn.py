"""Healthy: a small CNN on patches of scikit-learn's sample photos, with a sensible augmentation
pipeline found on the train dataset (flip, small crop jitter, colour jitter, Normalize)."""

import torch
from _data import PatchDataset
from torch import nn
from torch.utils.data import DataLoader
from torchvision import transforms as T

MEAN, STD = (0.37, 0.40, 0.36), (0.36, 0.30, 0.32)  # measured on the patches
augment = T.Compose([
    T.RandomHorizontalFlip(),
    T.RandomCrop(32, padding=2, padding_mode="reflect"),
    T.ColorJitter(0.2, 0.2, 0.2),
    T.ToTensor(),
    T.Normalize(MEAN, STD),
])


def model():
    return nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 8 * 8, 4),
    )


def train_loader():
    return DataLoader(PatchDataset(augment), batch_size=32, shuffle=True,
                      generator=torch.Generator().manual_seed(0))
