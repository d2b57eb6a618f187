"""Data for the dict-batch set-ups: scikit-learn's bundled wine set (178 samples, 3 cultivars)
as a table of categorical and numeric columns, the way tabular data usually arrives: three of the
13 measurements binned into quartiles (categorical codes, embedded by the model), the other ten
standardised. Named _dicts_data so that it never collides with other set-ups' helpers."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.datasets import load_wine
from torch import nn
from torch.utils.data import DataLoader, Dataset

CATEGORICAL = (0, 9, 12)  # alcohol, colour intensity, proline: binned into quartiles
BINS = 4
CLASSES = 3
NUMERIC = 13 - len(CATEGORICAL)


def wine_table(seed: int = 0):
    """``(cat, num, y)``: LongTensor (178, 3) of quartile codes, FloatTensor (178, 10)
    standardised, LongTensor (178,) cultivars; rows shuffled once."""
    X, y = load_wine(return_X_y=True)
    order = np.random.default_rng(seed).permutation(len(X))
    X, y = X[order], y[order]
    cat = np.stack([np.digitize(X[:, c], np.quantile(X[:, c], [0.25, 0.5, 0.75])) for c in CATEGORICAL], 1)
    num = np.delete(X, CATEGORICAL, axis=1)
    num = (num - num.mean(0)) / num.std(0)
    return torch.tensor(cat, dtype=torch.long), torch.tensor(num, dtype=torch.float32), torch.tensor(y)


class TableSet(Dataset):
    """Rows as dicts: ``{cat_name: codes, num_name: features, target_name: cultivar}``."""

    def __init__(self, cat, num, y, names=("cat", "num", "labels")):
        self.cat, self.num, self.y, self.names = cat, num, y, names

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        c, n, t = self.names
        return {c: self.cat[i], n: self.num[i], t: self.y[i]}


def split(names=("cat", "num", "labels")):
    """Train (142 rows) and validation (36 rows) datasets of dict rows."""
    cat, num, y = wine_table()
    return TableSet(cat[:142], num[:142], y[:142], names), TableSet(cat[142:], num[142:], y[142:], names)


def loaders(train, val, batch_size: int = 16):
    return (lambda: DataLoader(train, batch_size=batch_size, shuffle=True,
                               generator=torch.Generator().manual_seed(0)),
            lambda: DataLoader(val, batch_size=36))


class Embedded(nn.Module):
    """Categorical codes through one embedding per column, concatenated with the numeric
    features, then an MLP: the usual tabular network."""

    def __init__(self, columns: int = len(CATEGORICAL), bins: int = BINS, numeric: int = NUMERIC,
                 width: int = 64, dim: int = 4):
        super().__init__()
        self.embeddings = nn.ModuleList(nn.Embedding(bins, dim) for _ in range(columns))
        self.mlp = nn.Sequential(nn.Linear(columns * dim + numeric, width), nn.ReLU(),
                                 nn.Linear(width, width), nn.ReLU(), nn.Linear(width, CLASSES))

    def encode(self, cat, num):
        parts = [emb(cat[:, i]) for i, emb in enumerate(self.embeddings)]
        return self.mlp(torch.cat([*parts, num], dim=1))
