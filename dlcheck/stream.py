"""How a check that trains reads its loader (``Context.stream``): batch after batch as a training
loop reads them, starting over when the loader ends, each moved to the device when its turn
comes. One generator and no Python per batch beyond what that needs: the sweeps and short runs
read it at every step (lr-find's sweep is checked against a bare loop, ``benchmarks/lr_find.py``)."""

from __future__ import annotations

from dlcheck.batches import read_error
from dlcheck.device import to_device
from dlcheck.errors import UserError


def stream(ctx, steps: int, split: str = "train"):
    """``(index, batch)`` for ``steps`` batches of ``ctx``'s ``split`` loader (fewer once the
    budget is spent, or when a loader that cannot start over ends); the first batch checked to be
    usable; under torchrun, for a check that shards, this rank's round-robin share. A loader's
    exceptions are named as its own, with the batch (``batches.Reading``'s message)."""
    name = "train_loader" if split == "train" else "val_loader"
    target = ctx.target
    where, factory = target.where(name), callable(getattr(target, name))
    loader = ctx.loader(split)
    if loader is None:
        raise UserError(f"no {name} was given")
    check, device, clock = not target.own_step, ctx.device, ctx._clock
    step = 0
    while step < steps:
        try:
            iterator = iter(loader)
        except TypeError:
            raise UserError(f"{where} is a {type(loader).__name__}, not an iterable of batches") from None
        if iterator is loader and factory:
            del ctx._loaders[split]  # a generator from a factory: every pass starts afresh
            loader = ctx.loader(split)
            iterator = iter(loader)
        read, stride = 0, ctx._stride(split)
        while True:
            try:
                batch = next(iterator)
            except StopIteration:
                break
            except UserError:
                raise
            except Exception as exc:
                raise read_error(where, exc, read) from exc
            read += 1
            if stride is not None and (read - 1) % stride[1] != stride[0]:
                continue  # another rank's batch
            if check and step == 0:
                ctx._check_batch(batch, 0, where)
            yield read - 1, to_device(batch, device)
            step += 1
            if step == steps or (clock and ctx.time_up()):
                return
        if read == 0:
            if step == 0:
                raise UserError(f"{where} yielded no batches")
            return  # a one-shot iterable is used up: the data ends here
        if iterator is loader and not factory:
            return  # a generator handed over as an object: it cannot start over
