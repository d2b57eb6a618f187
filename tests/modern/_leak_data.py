"""Data for the train/validation leakage set-ups (tests/modern/leak_*.py): scikit-learn's digits
split with train_test_split and standardised with the training part's statistics, and patches of
its two sample photos as PIL images through a torchvision transform. Named _leak_data so that it
never collides with other set-ups' helpers."""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from sklearn import datasets
from sklearn.model_selection import train_test_split
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "zoo"))
from _data import photo_patches  # noqa: E402,F401  (the zoo's: uint8 patches of the two sample photos, 4 classes)


def digits():
    """``(X, y)`` of digits as float32 / long tensors, standardised per pixel (constant pixels left 0)."""
    X, y = datasets.load_digits(return_X_y=True)
    X = torch.tensor(X, dtype=torch.float32)
    std = X.std(0)
    std[std < 1e-6] = 1.0
    return (X - X.mean(0)) / std, torch.tensor(y)


def digits_split():
    """``(X_train, X_val, y_train, y_val)``: a stratified 80/20 split, as a practitioner writes it."""
    X, y = digits()
    return train_test_split(X, y, test_size=0.2, stratify=y, random_state=0)


def loader(X, y, shuffle=True, batch_size=64):
    return DataLoader(TensorDataset(X, y), batch_size=batch_size, shuffle=shuffle,
                      generator=torch.Generator().manual_seed(0) if shuffle else None)


def mlp():
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))


class Patches(Dataset):
    """Photo patches (by index) as PIL images through a torchvision transform, as user datasets do."""

    def __init__(self, patches, labels, transform=None):
        self.patches, self.labels, self.transform = patches, labels, transform

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        from PIL import Image

        image = Image.fromarray(self.patches[i])
        return (self.transform(image) if self.transform else image), int(self.labels[i])


def cnn():
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 8 * 8, 4),
    )
