"""Healthy (a new user's trial): torchvision's resnet18 (weights=None) on 32x32 crops of
scikit-learn's two sample photos, flipped and colour-jittered per crop by a loader with
num_workers=2; Adam."""

import torch
import torchvision
from torch.utils.data import DataLoader
from torchvision.transforms import v2
from trypre_data import PhotoCrops

num_classes = 2
lr = 1e-3


def model():
    return torchvision.models.resnet18(weights=None, num_classes=2)


def train_loader():
    augment = v2.Compose([v2.RandomHorizontalFlip(), v2.ColorJitter(0.2, 0.2),
                          v2.Normalize([0.5, 0.5, 0.5], [0.25, 0.25, 0.25])])
    return DataLoader(PhotoCrops(256, crop=32, transform=augment), batch_size=16, shuffle=True, num_workers=2,
                      generator=torch.Generator().manual_seed(0))


def optimizer(params, lr):
    return torch.optim.Adam(params, lr=lr)
