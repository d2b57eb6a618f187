"""Healthy state, a plain DataLoader resumed mid-epoch: batches of 16 (75 per epoch, longer than
the check's epoch budget), so the checkpoint falls inside the first epoch."""

from _resume_data import digits, mlp, val_loader  # noqa: F401
from torch.utils.data import DataLoader, TensorDataset

num_classes = 10
lr = 1e-3
model = mlp


def train_loader():
    X, y = digits()
    return DataLoader(TensorDataset(X[:1200], y[:1200]), batch_size=16, shuffle=True)
