"""bn-gap's batches: val batches drawn at random across the val set, and how much one class makes
up of a batch (a val loader sorted by class is not compared on)."""

from __future__ import annotations

import torch

from dlcheck.context import Context


def _val_batches(ctx: Context, n: int) -> tuple[list, bool]:
    """``n`` val batches drawn at random across the val set (seeded), when the val loader is a
    DataLoader over a map-style dataset: a loader without shuffling yields batches sorted by class
    (ImageFolder), whose batch statistics stand for one class, not for the data. Else its first
    ``n`` batches as it yields them. Returns (batches, drawn at random)."""
    from torch.utils.data import DataLoader, IterableDataset, RandomSampler, SequentialSampler, SubsetRandomSampler

    from dlcheck.batches import first_batches
    from dlcheck.device import to_device

    loader = ctx.loader("val")
    indices = None
    if isinstance(loader, DataLoader) and not isinstance(loader.dataset, IterableDataset) and loader.batch_size:
        sampler = loader.sampler
        try:
            if isinstance(sampler, SequentialSampler) or (isinstance(sampler, RandomSampler)
                                                          and not sampler.replacement
                                                          and sampler.num_samples == len(loader.dataset)):
                indices = range(len(loader.dataset))
            elif isinstance(sampler, SubsetRandomSampler):
                indices = list(sampler.indices)
            else:
                indices = list(sampler)  # the samples the loader draws (a subset, a distributed share)
        except TypeError:  # a dataset or sampler without a length
            indices = None
    if not indices:
        return ctx.batches(n, split="val"), False
    gen = torch.Generator().manual_seed(ctx.seed)
    from dlcheck import distributed

    world = distributed.world_size()  # under torchrun: each rank its share of the drawn samples
    picked = torch.randperm(len(indices), generator=gen)[:n * loader.batch_size * world].tolist()
    if world > 1 and len(picked) >= world:
        picked = picked[distributed.rank()::world][:len(picked) // world]
    drawn = DataLoader(loader.dataset, batch_size=loader.batch_size, sampler=[indices[i] for i in picked],
                       collate_fn=loader.collate_fn)
    where = ctx.target.where("val_loader")
    out = []
    for i, batch in enumerate(first_batches(drawn, n, where)):
        if not ctx.target.own_step:
            ctx.split(batch, i, "val")  # fails early, clearly
        out.append(to_device(batch, ctx.device))
    return out, True


def _top_share(logits: torch.Tensor, targets) -> torch.Tensor | None:
    """The share of a batch's labels that its most common class holds (a 0-d tensor on the
    device), for class labels (integer, one-hot or binary 0/1 targets); None for anything else."""
    if not isinstance(targets, torch.Tensor) or targets.dim() == 0 or targets.shape[0] < 2:
        return None
    classes = int(logits.shape[1]) if logits.dim() == 2 and logits.shape[1] > 1 else 2
    if targets.dtype.is_floating_point:
        if classes > 2 and targets.shape == logits.shape:
            labels = targets.argmax(1)  # one-hot or soft targets
        elif classes == 2 and targets.numel() == targets.shape[0] and logits.numel() == targets.numel():
            labels = (targets.reshape(-1) > 0.5).long()  # binary targets of a single logit
        else:
            return None
    elif targets.dim() == 1:
        labels = targets.long()
    else:
        return None
    valid = ((labels >= 0) & (labels < classes)).float()  # ignore_index (-100) does not count
    counts = torch.zeros(classes, device=labels.device).scatter_add_(0, labels.clamp(0, classes - 1), valid)
    return counts.max() / valid.sum().clamp(min=1)


def _dominated(val_share: float | None, train_share: float | None, s) -> bool:
    """The val batches are far more one class each than the training batches: their top class's
    share (on average) has gone ``sorted_share`` of the way from the training batches' to 1."""
    if val_share is None or train_share is None or train_share >= 1:
        return False
    return val_share - train_share >= float(s["sorted_share"]) * (1 - train_share)
