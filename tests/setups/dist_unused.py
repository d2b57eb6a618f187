"""Under torchrun, a branch taken only on some ranks' data: inputs with a missing-value sentinel
(-10 in pixel 0) go through an extra head. The sentinel rows are the odd-indexed samples, and a
DistributedSampler without shuffling gives rank 1 exactly those, rank 0 none: on rank 0 the
head's parameters get no gradient (DDP's unused-parameter error; DLC015)."""

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.data.distributed import DistributedSampler

import dist_digits

num_classes = dist_digits.num_classes
lr = dist_digits.lr

X = dist_digits.digits_setup.X_TRAIN.clone()
X[1::2, 0] = -10.0  # the sentinel on every odd-indexed sample


class WithMissingHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, num_classes))
        self.missing_head = nn.Linear(64, num_classes)

    def forward(self, x):
        out = self.body(x)
        if bool((x[:, 0] < -5).any()):  # only batches holding a sentinel take the branch
            out = out + self.missing_head(x)
        return out


def model() -> nn.Module:
    return WithMissingHead()


def train_loader() -> DataLoader:
    data = TensorDataset(X, dist_digits.digits_setup.Y_TRAIN)
    if dist.is_initialized():
        return DataLoader(data, batch_size=32, sampler=DistributedSampler(data, shuffle=False))
    return DataLoader(data, batch_size=64, shuffle=True, generator=torch.Generator().manual_seed(0))
