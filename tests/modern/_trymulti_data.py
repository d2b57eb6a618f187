"""Data for the trymulti set-ups, all from scikit-learn's bundled sets (nothing downloaded):
digits (1797 8x8 images) for the multi-task, graph and mixup set-ups, breast cancer (569 rows,
30 measurements) as a table with quantile-binned categorical columns. Named _trymulti_data so
that it never collides with other set-ups' helpers."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.datasets import load_breast_cancer, load_digits


def digits(seed: int = 0):
    """``(x, y)``: FloatTensor (1797, 64) pixels scaled to [0, 1] and standardised per pixel over
    the set, LongTensor (1797,) digits; rows shuffled once. Also returns the raw mean intensity
    (FloatTensor (1797,), in [0, 1]) standardised, the regression target of the multi-task set-up."""
    X, y = load_digits(return_X_y=True)
    order = np.random.default_rng(seed).permutation(len(X))
    X, y = X[order] / 16.0, y[order]
    intensity = X.mean(1)
    intensity = (intensity - intensity.mean()) / intensity.std()
    x = (X - X.mean(0)) / (X.std(0) + 1e-6)
    return (torch.tensor(x, dtype=torch.float32), torch.tensor(y),
            torch.tensor(intensity, dtype=torch.float32))


CAT_COLUMNS = (0, 1, 4, 20, 27)  # mean radius, mean texture, mean smoothness, worst radius, worst concave points
CAT_BINS = 5  # quintiles


def cancer_table(seed: int = 0):
    """``(cat, num, y)``: LongTensor (569, 5) of quintile codes, FloatTensor (569, 25)
    standardised, LongTensor (569,) malignant (0) / benign (1); rows shuffled once."""
    X, y = load_breast_cancer(return_X_y=True)
    order = np.random.default_rng(seed).permutation(len(X))
    X, y = X[order], y[order]
    qs = np.linspace(0, 1, CAT_BINS + 1)[1:-1]
    cat = np.stack([np.digitize(X[:, c], np.quantile(X[:, c], qs)) for c in CAT_COLUMNS], 1)
    num = np.delete(X, CAT_COLUMNS, axis=1)
    num = (num - num.mean(0)) / num.std(0)
    return torch.tensor(cat, dtype=torch.long), torch.tensor(num, dtype=torch.float32), torch.tensor(y)


def knn_graph(x: torch.Tensor, k: int = 8) -> torch.Tensor:
    """The symmetric-normalised adjacency D^-1/2 (A + I) D^-1/2 of the k-nearest-neighbour graph
    over the rows of x (made symmetric), as a dense (n, n) FloatTensor."""
    d = torch.cdist(x, x)
    d.fill_diagonal_(float("inf"))
    idx = d.topk(k, largest=False).indices
    a = torch.zeros(len(x), len(x))
    a.scatter_(1, idx, 1.0)
    a = ((a + a.T) > 0).float() + torch.eye(len(x))
    deg = a.sum(1).rsqrt()
    return deg[:, None] * a * deg[None, :]
