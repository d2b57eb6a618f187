"""data-check's fixes for ``--verify-fixes`` (dlcheck.fixes): shuffling on, inputs standardised."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from dlcheck.checks.data_check.parts import levels
from dlcheck.checks.data_check.stream_rules import row_of_pixels


def shuffle_loader(given):
    """Rebuild the train loader with ``shuffle=True`` (same dataset, batch size and collate)."""
    from dlcheck import fixes

    from torch.utils.data.distributed import DistributedSampler

    seed, loader = given.ctx.seed, given.ctx.loader("train")
    if fixes.rebuild_loader(loader, shuffle=True, seed=seed) is None:
        return None
    fixed = fixes.with_loader(given.target, lambda loader: fixes.rebuild_loader(loader, shuffle=True, seed=seed))
    sharded = isinstance(getattr(loader, "sampler", None), DistributedSampler)
    return fixes.Applied(fixed, "DistributedSampler(dataset, shuffle=True)" if sharded
                         else "DataLoader(..., shuffle=True)")


@dataclass
class Standardise:
    """A collate step: the inputs (``batch[0]``) standardised by a measured mean and std along ``axis``."""

    mean: torch.Tensor
    std: torch.Tensor
    axis: int

    def __call__(self, batch):
        x = batch[0]
        shape = [1] * x.dim()
        shape[self.axis] = -1
        x = (x - self.mean.view(shape).to(x.device)) / self.std.view(shape).to(x.device)
        return type(batch)([x, *batch[1:]]) if isinstance(batch, list) else (x, *batch[1:])


def _axis(x: torch.Tensor) -> int:
    """The channel / feature axis: 1 for (N, F) and images (N, C, ...), the last for (N, T, D)."""
    return 2 if x.dim() == 3 else 1


def _mean_std(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-column mean and std of ``x`` (N, F); under torchrun of every rank's rows together (their
    sums, sums of squares and counts, in float64), so every rank standardises alike."""
    from dlcheck import distributed, fixes

    if not distributed.active():
        return x.mean(0), x.std(0)
    width, x = x.shape[1], x.double()
    sums = fixes.summed(torch.cat([x.sum(0), (x * x).sum(0), torch.tensor([float(x.shape[0])], dtype=x.dtype)]))
    n = sums[-1]
    mean = sums[:width] / n
    var = (sums[width:2 * width] - n * mean * mean).clamp_min(0) / (n - 1).clamp_min(1)
    return mean.float(), var.sqrt().float()


def standardise_inputs(given):
    """Standardise the inputs with the per-channel (per-feature) mean and std measured on the
    batches data-check read: a collate step after the loader's own."""
    from dlcheck import fixes

    ctx = given.ctx
    inputs = []
    for batch in ctx.raw_batches(int(ctx.settings["batches"])):
        if not isinstance(batch, (tuple, list)) or not isinstance(batch[0], torch.Tensor) \
                or not batch[0].is_floating_point() or batch[0].dim() < 2:
            return None
        inputs.append(batch[0].float())
    axis = _axis(inputs[0])
    x = torch.cat([i.movedim(axis, -1).reshape(-1, i.shape[axis]) for i in inputs])
    row = inputs[0].dim() == 2 and row_of_pixels(levels(inputs[0], "table"), x.shape[1], ctx.settings)
    mean, std = _mean_std(x)
    if row:  # pixels flattened to a row: one mean and std for all of them
        mean, std = (v.expand(x.shape[1]).clone() for v in _mean_std(x.reshape(-1, 1)))
    std[~(std > 1e-6)] = 1.0
    step = Standardise(mean, std, axis)
    if fixes.rebuild_loader(ctx.loader("train"), collate=step) is None:
        return None
    fixed = fixes.with_loader(given.target, lambda loader: fixes.rebuild_loader(loader, collate=step))
    if row:
        line = (f"x = (x - {float(mean[0]):.4g}) / {float(std[0]):.4g}  # one mean and std for the whole row, "
                f"as pixels are normalised")
    elif inputs[0].dim() >= 4:
        line = (f"transforms.Normalize(mean={_shown(mean)}, std={_shown(std)})  # on the inputs as the "
                f"loader yields them")
    else:
        line = f"x = (x - mean) / std  # per {'step feature' if axis == 2 else 'feature'}, from the training inputs"
    return fixes.Applied(fixed, line)


def _shown(values: torch.Tensor) -> str:
    return "[" + ", ".join(f"{float(v):.4g}" for v in values[:8]) + (", ...]" if len(values) > 8 else "]")


#: finding code -> the fix --verify-fixes tries for it
FIXES = {"DLC707": shuffle_loader, "DLC701": standardise_inputs, "DLC702": standardise_inputs}
