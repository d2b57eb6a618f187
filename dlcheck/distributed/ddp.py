"""The model and the data of a check that shards under torchrun: the ranks' initial weights
compared (DLC011, before DDP's broadcast would hide a difference), plain BatchNorm on a small
per-rank batch noted (DLC013), the model wrapped in DistributedDataParallel for the checks that
train, and each rank's round-robin share of a loader without a DistributedSampler (DLC012/014).
Set-up findings are said once per run: ``said`` is the run's record of them."""

from __future__ import annotations

from collections.abc import Callable

from dlcheck.distributed import findings, reduce
from dlcheck.distributed.session import rank, world_size
from dlcheck.results import Finding


def prepare_model(model, device, wraps: bool, said: set, where: str,
                  per_rank_batch: Callable[[], int | None]) -> tuple[object, list[Finding]]:
    """``model`` ready for a sharded check (wrapped in DDP when ``wraps``; a DDP or FSDP model,
    or one with nothing to train, as it is) and the set-up findings not said yet this run."""
    from torch import nn
    from torch.distributed.fsdp import FullyShardedDataParallel
    from torch.nn.parallel import DistributedDataParallel

    found: list[Finding] = []
    sums = reduce.gather_floats(reduce.weights_checksum(model))  # every rank joins, every time
    if "weights" not in said:
        said.add("weights")
        found.append(findings.differing_weights(sums, where))
        plain = [n for n, m in model.named_modules()
                 if isinstance(m, nn.modules.batchnorm._BatchNorm) and not isinstance(m, nn.SyncBatchNorm)]
        if plain and "batchnorm" not in said:
            said.add("batchnorm")
            per_rank = per_rank_batch()
            if per_rank is not None:
                found.append(findings.small_bn_batch(plain, per_rank, world_size()))
    found = [f for f in found if f is not None]
    if not wraps or isinstance(model, (DistributedDataParallel, FullyShardedDataParallel)) \
            or not any(p.requires_grad for p in model.parameters()):
        return model, found
    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids), found


def stride(loader, said: set, where: str, first_batch: Callable[[], object]) -> tuple[tuple[int, int] | None, list[Finding]]:
    """``(rank, world)``: this rank's round-robin share of a loader without a DistributedSampler
    (None when the loader shards itself). The first time in a run, the ranks compare their first
    batch (``first_batch()``, for a loader that can be read again): the same batch on every rank
    is DLC012, else dlcheck says once that it shards (DLC014)."""
    if reduce.has_distributed_sampler(loader):
        return None, []
    found = []
    if "batches" not in said:
        said.add("batches")
        same = False
        try:
            replayable = iter(loader) is not loader
        except TypeError:
            replayable = False
        if replayable:
            prints = reduce.gather_floats([reduce.fingerprint(first_batch())])
            same = all(p == prints[0] for p in prints)
        found.append(findings.unsharded_loader(same, world_size(), where))
    return (rank(), world_size()), found
