"""Healthy: a small CNN on photo patches, the indices split once into disjoint train and validation
parts; random flips, crops and colour jitter on train only, the plain pipeline on validation."""

import numpy as np
import torch
from _leak_data import Patches, cnn, photo_patches
from torch.utils.data import DataLoader
from torchvision import transforms as T

MEAN, STD = (0.37, 0.40, 0.36), (0.36, 0.30, 0.32)  # measured on the patches
augment = T.Compose([T.RandomHorizontalFlip(), T.RandomCrop(32, padding=2, padding_mode="reflect"),
                     T.ColorJitter(0.2, 0.2, 0.2), T.ToTensor(), T.Normalize(MEAN, STD)])
plain = T.Compose([T.ToTensor(), T.Normalize(MEAN, STD)])
patches, labels = photo_patches()
order = np.random.default_rng(1).permutation(len(labels))
TRAIN, VAL = order[:144], order[144:]
model = cnn


def train_loader():
    return DataLoader(Patches(patches[TRAIN], labels[TRAIN], augment), batch_size=32, shuffle=True,
                      generator=torch.Generator().manual_seed(0))


def val_loader():
    return DataLoader(Patches(patches[VAL], labels[VAL], plain), batch_size=32)
