"""Healthy, as a new user writes it: torchvision's ResNet-18 (weights=None) on small 32 px images
(4 classes of photo patches cut from scikit-learn's sample photos), Adam at 1e-3, batch 32."""

import numpy as np
import torch
import torchvision
from sklearn.datasets import load_sample_images
from torch.utils.data import DataLoader, TensorDataset


def _patches(size=32, per_photo=96):
    rng = np.random.default_rng(0)
    xs, ys = [], []
    for p, photo in enumerate(load_sample_images().images):
        h, w, _ = photo.shape
        for i in range(per_photo):
            half = i % 2
            top = int(rng.integers(0, h - size))
            left = int(rng.integers(half * w // 2, (half + 1) * w // 2 - size))
            xs.append(photo[top:top + size, left:left + size])
            ys.append(2 * p + half)
    x = torch.tensor(np.stack(xs), dtype=torch.float32).permute(0, 3, 1, 2) / 255
    x = (x - x.mean((0, 2, 3), keepdim=True)) / x.std((0, 2, 3), keepdim=True)
    return x, torch.tensor(ys)


X, Y = _patches()
lr = 1e-3
model = lambda: torchvision.models.resnet18(weights=None, num_classes=4)
train_loader = lambda: DataLoader(TensorDataset(X, Y), batch_size=32, shuffle=True,
                                  generator=torch.Generator().manual_seed(0))
