"""dlcheck target: torchvision's ResNet-18 (random weights) on a small synthetic image set.

Each of the 10 classes is a coloured pattern (stripes at a class-specific angle and frequency)
with noise, 32x32 RGB, normalised per channel: learnable, small, and nothing to download.
"""

import math

import torch
import torchvision
from torch.utils.data import DataLoader, TensorDataset

num_classes = 10
lr = 1e-3


def make_images(n: int = 320, size: int = 32, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % num_classes
    labels = labels[torch.randperm(n, generator=g)]
    ys, xs = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing="ij")
    images = torch.empty(n, 3, size, size)
    for i, k in enumerate(labels.tolist()):
        angle = math.pi * k / num_classes
        freq = 2.0 + k % 3
        phase = float(torch.rand(1, generator=g)) * 2 * math.pi
        wave = torch.sin(freq * math.pi * (xs * math.cos(angle) + ys * math.sin(angle)) + phase)
        colour = torch.tensor([math.cos(k), math.sin(k), math.cos(2 * k)]).view(3, 1, 1)
        images[i] = 0.5 + 0.25 * wave * colour + 0.1 * torch.randn(3, size, size, generator=g)
    mean = images.mean(dim=(0, 2, 3), keepdim=True)
    std = images.std(dim=(0, 2, 3), keepdim=True)
    return (images - mean) / std, labels


IMAGES, LABELS = make_images()


def model():
    return torchvision.models.resnet18(weights=None, num_classes=num_classes)


def train_loader():
    return DataLoader(TensorDataset(IMAGES[:256], LABELS[:256]), batch_size=32, shuffle=True,
                      generator=torch.Generator().manual_seed(0))


def val_loader():
    return DataLoader(TensorDataset(IMAGES[256:], LABELS[256:]), batch_size=32)
