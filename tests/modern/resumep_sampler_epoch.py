"""Healthy: the resumable sampler with batches of 64 (19 per epoch): the checkpoint falls at the end
of the first epoch, and the restored sampler starts the second epoch's shuffle."""

from _resume_data import digits, mlp, val_loader  # noqa: F401
from _resumep_sampler import ResumableRandomSampler
from torch.utils.data import DataLoader, TensorDataset

num_classes = 10
lr = 1e-3
model = mlp


def train_loader():
    X, y = digits()
    data = TensorDataset(X[:1200], y[:1200])
    return DataLoader(data, batch_size=64, sampler=ResumableRandomSampler(len(data)))
