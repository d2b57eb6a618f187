"""dlcheck target: a small MLP on scikit-learn's bundled handwritten digits (8x8 images, 10 classes).

This is the demo: a healthy set-up that every check should pass. Run `dlcheck run recipes/digits.yaml`.
"""

import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

num_classes = 10
lr = 3e-3


def _splits():
    X, y = load_digits(return_X_y=True)
    X = torch.tensor(X, dtype=torch.float32)
    y = torch.tensor(y, dtype=torch.long)
    order = torch.randperm(len(X), generator=torch.Generator().manual_seed(0))
    X, y = X[order], y[order]
    X_train, y_train, X_val, y_val = X[:1400], y[:1400], X[1400:], y[1400:]
    # Standardise each pixel with the training set's statistics (pixels that are always 0 stay 0).
    mean, std = X_train.mean(0), X_train.std(0)
    std[std < 1e-6] = 1.0
    return (X_train - mean) / std, y_train, (X_val - mean) / std, y_val


X_TRAIN, Y_TRAIN, X_VAL, Y_VAL = _splits()


def model() -> nn.Module:
    return nn.Sequential(
        nn.Linear(64, 256), nn.ReLU(),
        nn.Linear(256, 256), nn.ReLU(),
        nn.Linear(256, num_classes),
    )


def train_loader() -> DataLoader:
    return DataLoader(TensorDataset(X_TRAIN, Y_TRAIN), batch_size=64, shuffle=True,
                      generator=torch.Generator().manual_seed(0))


def val_loader() -> DataLoader:
    return DataLoader(TensorDataset(X_VAL, Y_VAL), batch_size=128)
