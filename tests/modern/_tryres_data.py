"""Data shared by the tryres_ set-ups (resume tried as a new user would): scikit-learn's digits as
small images (8x8, or upsampled to 3x32x32 for torchvision's resnet18), crops of scikit-learn's two
bundled photos labelled by photo (the zoo's, tests/zoo/_data.py), and windows of a small text for a
tiny language model."""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "zoo"))
from _data import photo_crops  # noqa: E402,F401  (the zoo's bundled data: uint8 crops, label = which photo)


@functools.lru_cache(maxsize=None)
def digit_images(n: int = 512) -> tuple[torch.Tensor, torch.Tensor]:
    X, y = load_digits(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(X))[:n]
    X = torch.tensor(X[order], dtype=torch.float32).reshape(-1, 1, 8, 8) / 16.0
    return (X - 0.3) / 0.4, torch.tensor(y[order])


@functools.lru_cache(maxsize=None)
def digit_rgb32(n: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    X, y = digit_images(n)
    return F.interpolate(X, size=32, mode="bilinear", align_corners=False).repeat(1, 3, 1, 1), y


TEXT = ("the quick brown fox jumps over the lazy dog while the cat sleeps on the warm mat and "
        "the bird sings in the tall green tree by the river that runs to the sea ") * 12


@functools.lru_cache(maxsize=None)
def text_windows(length: int = 24) -> tuple[torch.Tensor, int]:
    vocab = sorted(set(TEXT))
    ids = torch.tensor([vocab.index(ch) for ch in TEXT])
    starts = range(0, len(ids) - length, length // 2)
    return torch.stack([ids[s:s + length] for s in starts]), len(vocab)
