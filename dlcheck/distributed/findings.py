"""The torchrun findings that come from the set-up rather than from one check's numbers, as pure
functions (numbers in, finding out): each rank gathers what they need, rank 0 says them once per
run. DLC010 (a rank raised) is the runner's, DLC015 the training step's, DLC016 lr-find's."""

from __future__ import annotations

from dlcheck.results import Finding, listing
from dlcheck.rules import finding

#: A per-rank batch below this, with plain BatchNorm: DLC013 (advice: SyncBatchNorm).
BN_PER_RANK_BATCH = 32


def differing_weights(sums: list[list[float]], where: str) -> Finding | None:
    """DLC011: the ranks' weight checksums (``weights_checksum`` of each rank, rank 0 first) differ."""
    differ = [r for r, v in enumerate(sums) if v != sums[0]]
    if not differ:
        return None
    return finding("DLC011", f"the initial weights differ between ranks: rank {listing(differ)} built other "
                             f"weights than rank 0 from {where} (a per-rank seed before the model is built?)")


def small_bn_batch(plain: list[str], per_rank: int, world: int) -> Finding | None:
    """DLC013: plain BatchNorm layers (``plain``, not SyncBatchNorm) normalise over a per-rank batch
    below BN_PER_RANK_BATCH."""
    if not plain or per_rank >= BN_PER_RANK_BATCH:
        return None
    return finding("DLC013", f"{listing(plain)} normalise over each rank's batch of {per_rank} samples, not the "
                             f"global batch of {per_rank * world} ({world} ranks): BatchNorm's statistics are "
                             f"those of a small batch",
                   advice="convert with torch.nn.SyncBatchNorm.convert_sync_batchnorm(model) before DDP, "
                          "or raise the per-rank batch size")


def unsharded_loader(same_first_batch: bool, world: int, where: str) -> Finding:
    """DLC012 when every rank read the same first batch from a loader without DistributedSampler;
    else DLC014: dlcheck shards it itself (round robin)."""
    if same_first_batch:
        return finding("DLC012", f"all {world} ranks read the same first batch from {where}: it has no "
                                 f"DistributedSampler, so in training every rank would compute the same "
                                 f"gradient (dlcheck shards the batches for its own checks)")
    return finding("DLC014", f"{where} has no DistributedSampler: dlcheck gives each of the {world} ranks "
                             f"every {world}th batch it reads")
