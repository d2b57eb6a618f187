"""Healthy (a new user's trial): torchvision's mobilenet_v3_small (weights=None) on the digits
upsampled to 3x32x32, an in-memory TensorDataset; the target's default optimizer."""

import torchvision
from trypre_data import digit_loader

num_classes = 10


def model():
    return torchvision.models.mobilenet_v3_small(weights=None, num_classes=10)


def train_loader():
    return digit_loader(size=32, channels=3, batch_size=32)
