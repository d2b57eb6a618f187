"""A healthy set-up for torchrun: recipes/digits_setup.py with a DistributedSampler under torchrun
(each rank reads its own shard), the plain shuffled loader in one process."""

import sys
from pathlib import Path

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.data.distributed import DistributedSampler

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "recipes"))
import digits_setup  # noqa: E402

sys.path.pop(0)

num_classes = digits_setup.num_classes
lr = digits_setup.lr
model = digits_setup.model
val_loader = digits_setup.val_loader


def train_loader() -> DataLoader:
    data = TensorDataset(digits_setup.X_TRAIN, digits_setup.Y_TRAIN)
    if dist.is_available() and dist.is_initialized():
        return DataLoader(data, batch_size=32, sampler=DistributedSampler(data, shuffle=True, seed=0))
    return DataLoader(data, batch_size=64, shuffle=True, generator=torch.Generator().manual_seed(0))
