"""Data for the trypre_* set-ups (a new user's trials of preflight): scikit-learn's digits and its
two bundled sample photos, as a practitioner would load them. Not a set-up itself."""

from __future__ import annotations

import numpy as np
import torch
from sklearn import datasets
from torch.utils.data import DataLoader, Dataset, IterableDataset, TensorDataset


def digits(size: int = 8, channels: int = 1):
    """(X, y): the 1797 digits as channels x size x size images in [0, 1] (bilinear upsampling)."""
    X, y = datasets.load_digits(return_X_y=True)
    X = torch.tensor(X / 16.0, dtype=torch.float32).reshape(-1, 1, 8, 8)
    if size != 8:
        X = torch.nn.functional.interpolate(X, size=(size, size), mode="bilinear", align_corners=False)
    return X.expand(-1, channels, -1, -1).contiguous(), torch.tensor(y, dtype=torch.long)


def digit_loader(size=8, channels=1, batch_size=32, n=1024):
    X, y = digits(size, channels)
    X = (X - X.mean()) / X.std()  # standardised, as a practitioner does
    return DataLoader(TensorDataset(X[:n], y[:n]), batch_size=batch_size, shuffle=True,
                      generator=torch.Generator().manual_seed(0))


class PhotoCrops(Dataset):
    """Random-position crops of the two sample photos (china, flower); the label says which photo.
    With ``transform``, a torchvision transform applied per crop (augmentation)."""

    def __init__(self, n: int = 512, crop: int = 64, transform=None, seed: int = 0):
        photos = datasets.load_sample_images().images
        self.photos = [torch.tensor(np.asarray(p), dtype=torch.uint8).permute(2, 0, 1) for p in photos]
        g = torch.Generator().manual_seed(seed)
        self.items = []
        for i in range(n):
            label = i % 2
            _, h, w = self.photos[label].shape
            top = int(torch.randint(0, h - crop, (1,), generator=g))
            left = int(torch.randint(0, w - crop, (1,), generator=g))
            self.items.append((label, top, left))
        self.crop, self.transform = crop, transform

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        label, top, left = self.items[i]
        x = self.photos[label][:, top:top + self.crop, left:left + self.crop]
        x = x.float() / 255.0
        if self.transform is not None:
            x = self.transform(x)
        return x, label


class DigitStream(IterableDataset):
    """The digits streamed in a shuffled order, as a dataset read from shards would be; it splits
    itself between workers by get_worker_info()."""

    def __init__(self, n: int = 1024, seed: int = 0):
        X, y = digits()
        self.X, self.y, self.n, self.seed = (X - X.mean()) / X.std(), y, n, seed

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        order = torch.randperm(self.n, generator=torch.Generator().manual_seed(self.seed))
        if info is not None:
            order = order[info.id::info.num_workers]
        for i in order.tolist():
            yield self.X[i], self.y[i]
