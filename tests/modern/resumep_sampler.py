"""Healthy: the digits MLP resumed mid-epoch (batches of 16, 75 per epoch), its loader drawing
indices from a resumable sampler whose state dlcheck's default checkpoint saves and restores."""

from _resume_data import digits, mlp, val_loader  # noqa: F401
from _resumep_sampler import ResumableRandomSampler
from torch.utils.data import DataLoader, TensorDataset

num_classes = 10
lr = 1e-3
model = mlp


def train_loader():
    X, y = digits()
    data = TensorDataset(X[:1200], y[:1200])
    return DataLoader(data, batch_size=16, sampler=ResumableRandomSampler(len(data)))
