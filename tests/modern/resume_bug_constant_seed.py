"""Bug: the loader factory seeds its shuffling generator with a constant: a resumed run repeats
the first epoch's order (the target's own checkpointing, otherwise correct, says it resumes)."""

import torch
from _resume_data import digits, mlp, val_loader  # noqa: F401
from torch.utils.data import DataLoader, TensorDataset

from resume_own import load_checkpoint, save_checkpoint  # noqa: F401

num_classes = 10
lr = 1e-3
model = mlp


def train_loader():
    X, y = digits()
    return DataLoader(TensorDataset(X[:1200], y[:1200]), batch_size=64, shuffle=True,
                      generator=torch.Generator().manual_seed(0))  # the bug: the same order every rebuild
