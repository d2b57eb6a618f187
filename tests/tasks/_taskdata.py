"""Data shared by the task set-ups: scikit-learn's bundled sets, its sample photos and the DESCR
texts of its datasets, all on disk. Named _taskdata (not _data) so that it never collides with the
bug zoo's _data module in one Python process."""

from __future__ import annotations

import re

import numpy as np
import torch
from sklearn import datasets

DESCR_SETS = ("iris", "wine", "breast_cancer", "diabetes", "digits", "linnerud")


def standardise(X: torch.Tensor) -> torch.Tensor:
    std = X.std(0)
    std[std < 1e-6] = 1.0
    return (X - X.mean(0)) / std


def tabular(name: str, seed: int = 0):
    """(X, y) of a bundled set as tensors, shuffled once; X standardised per feature, y as loaded."""
    X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    order = np.random.default_rng(seed).permutation(len(X))
    return standardise(torch.tensor(X[order], dtype=torch.float32)), torch.tensor(y[order])


def descr(name: str) -> str:
    return getattr(datasets, f"load_{name}")().DESCR


def corpus() -> str:
    """All DESCR texts, whitespace runs collapsed to one space."""
    return re.sub(r"\s+", " ", " ".join(descr(n) for n in DESCR_SETS))


def words(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower())


def photos() -> list[np.ndarray]:
    return datasets.load_sample_images().images  # china.jpg, flower.jpg: 427x640x3 uint8
