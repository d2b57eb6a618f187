"""Loaders for the --verify-fixes torchrun tests (tests/test_fixes_distributed.py): under torchrun a
DistributedSampler gives each rank its shard of a per-rank batch (the global batch split over the
ranks), as a practitioner's DDP script does. In one process the same seeded permutation in one
shard (``num_replicas=1``): the first k batches hold exactly the samples the ranks' first k batches
hold together, so a fix's measured choice can be compared number for number."""

import sys
from pathlib import Path

import torch.distributed as dist
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.data.distributed import DistributedSampler

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "zoo"))
from _data import photo_patches, standardised  # noqa: E402,F401  (the zoo's bundled data)


def loader(X, y, batch_size: int = 64) -> DataLoader:
    data = TensorDataset(X, y)
    if dist.is_available() and dist.is_initialized():
        return DataLoader(data, batch_size=batch_size // dist.get_world_size(),
                          sampler=DistributedSampler(data, shuffle=True, seed=0))
    return DataLoader(data, batch_size=batch_size, sampler=DistributedSampler(data, num_replicas=1, rank=0, seed=0))
