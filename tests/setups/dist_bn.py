"""Under torchrun, plain BatchNorm over a per-rank batch of 8 (DLC013: use SyncBatchNorm)."""

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.data.distributed import DistributedSampler

import dist_digits

num_classes = dist_digits.num_classes
lr = dist_digits.lr


def model() -> nn.Module:
    return nn.Sequential(nn.Linear(64, 128), nn.BatchNorm1d(128), nn.ReLU(), nn.Linear(128, num_classes))


def train_loader() -> DataLoader:
    data = TensorDataset(dist_digits.digits_setup.X_TRAIN, dist_digits.digits_setup.Y_TRAIN)
    sampler = DistributedSampler(data, seed=0) if dist.is_initialized() else None
    return DataLoader(data, batch_size=8, sampler=sampler, shuffle=sampler is None,
                      generator=None if sampler else torch.Generator().manual_seed(0))
