"""Train/validation leakage (DLC715): does the validation set hold samples the model trains on?

Every sample of both loaders (up to ``leak_samples`` from each) is reduced to a digest of its input
bytes (the digest DLC708 uses: parts.sample_digests), train first, then val; only the digests
(16 bytes) and one position each are kept. A random augmentation makes one sample hash differently
at every read, so what is hashed is what stays put: the datasets' items read with every
``transform`` on them switched off (put back afterwards) when both loaders have indexable
datasets, else the batches as the loaders yield them (a caveat says so). Where the overlap cannot be
measured honestly (no val loader, a one-shot iterator, items that differ from read to read even
without their transform) :class:`Leakage` holds the reason instead of a share.

The train set's own repeats are the reference: a random split of data holding many identical
records puts copies on both sides (about twice the train set's repeat share), which is the data,
not the split; the rule (:func:`leakage`) says so instead of blaming the split.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch.utils.data import IterableDataset, SequentialSampler

from dlcheck.batches import dict_keys
from dlcheck.checks.data_check import parts
from dlcheck.context import Context
from dlcheck.datasets import transforms_off
from dlcheck.errors import UserError, describe_exception
from dlcheck.results import Finding
from dlcheck.rules import finding

Settings = Mapping[str, Any]
ITEMS = "dataset items with their transforms switched off"
BATCHES = "batches as the loaders yield them"
UNINDEXED = ("the datasets cannot be indexed, so samples were compared as the loaders yield them: a random "
             "augmentation in them would hide copies")


@dataclass
class Leakage:
    """The validation samples found in training (by input bytes), or why that was not measured."""

    reason: str | None = None  # why the overlap was not measured (None: measured)
    val_given: bool = True
    how: str = ""  # ITEMS | BATCHES
    caveat: str = ""
    train_hashed: int = 0
    train_total: int | None = None  # the train set's size when known
    train_repeats: int = 0  # train samples identical to an earlier train sample
    val_hashed: int = 0
    val_total: int | None = None
    in_train: int = 0  # validation samples identical to a train sample read
    examples: list[tuple[str, str]] = field(default_factory=list)  # (val position, train position)

    @property
    def share(self) -> float:
        return self.in_train / self.val_hashed if self.val_hashed else 0.0

    @property
    def repeat_share(self) -> float:
        return self.train_repeats / self.train_hashed if self.train_hashed else 0.0

    @property
    def partial(self) -> bool:
        """Only the first part of the train set was read: the overlap is a lower bound."""
        return self.train_total is None or self.train_hashed < self.train_total


# -- measuring --------------------------------------------------------------------------------
def measure(ctx: Context, inputs_known: bool = True) -> Leakage:
    """The overlap; ``inputs_known`` False (the target's forward() takes the batches apart its own
    way and data-check found no part that is the inputs alone) leaves it unmeasured: the bytes
    hashed would be whatever dlcheck guesses, e.g. a graph batch (features, adjacency, labels, a
    train/val mask) whose train and val batches share every node by design (transductive node
    classification) and would read as 100% overlap."""
    s = ctx.settings
    cap = int(s["leak_samples"])
    if cap < 1:
        raise UserError(f"data-check: leak_samples must be at least 1, not {cap}")
    if ctx.target.val_loader is None:
        return Leakage(reason="no val_loader was given", val_given=False)
    if not inputs_known:
        return Leakage(reason="the target's forward() takes the batches apart its own way and dlcheck cannot "
                              "tell which part are the inputs, so copies cannot be recognised")
    if ctx.shards:
        return Leakage(reason="not measured under torchrun (each rank sees its shard only): run without it")
    train, val = _indexable(ctx.loader("train")), _indexable(ctx.loader("val"))
    if train is not None and val is not None:
        return _items(ctx, train, val, cap)
    return _batches(ctx, cap)


def _indexable(loader):
    """The loader's map-style dataset (``len`` and ``[i]``), else None."""
    ds = getattr(loader, "dataset", None)
    if ds is None or isinstance(ds, IterableDataset) or not hasattr(ds, "__getitem__"):
        return None
    try:
        len(ds)
    except (TypeError, NotImplementedError):
        return None
    return ds


def _items(ctx: Context, train, val, cap: int) -> Leakage:
    lk = Leakage(how=ITEMS, train_total=len(train), val_total=len(val))
    with transforms_off((train, "train_loader.dataset"), (val, "val_loader.dataset"), strict=False):
        for ds, name in ((train, "train"), (val, "val")):
            if len(ds) and _item_digest(ctx, ds, 0, name) != _item_digest(ctx, ds, 0, name):
                return Leakage(reason=f"the {name} dataset gives a different item each time it is read, even "
                                      f"with its transform switched off (a random augmentation inside "
                                      f"__getitem__): copies cannot be recognised")
        seen: dict[bytes, int] = {}
        for i in range(min(len(train), cap)):
            d = _item_digest(ctx, train, i, "train")
            if d in seen:
                lk.train_repeats += 1
            else:
                seen[d] = i
        lk.train_hashed = min(len(train), cap)
        where = _val_position(ctx.loader("val"))
        for j in range(min(len(val), cap)):
            _match(ctx, lk, seen.get(_item_digest(ctx, val, j, "val")), where(j), lambda i: f"train item {i}")
        lk.val_hashed = min(len(val), cap)
    return lk


def _match(ctx: Context, lk: Leakage, found, val_at: str, train_at) -> None:
    if found is not None:
        lk.in_train += 1
        if len(lk.examples) < int(ctx.settings["leak_examples"]):
            lk.examples.append((val_at, train_at(found)))


def _val_position(loader):
    """How a val dataset index is named: with its batch and sample when the loader reads in order."""
    size = getattr(loader, "batch_size", None)
    if isinstance(getattr(loader, "sampler", None), SequentialSampler) and isinstance(size, int) and size > 0:
        return lambda j: f"val item {j} (batch {j // size} sample {j % size})"
    return lambda j: f"val item {j}"


def _item_digest(ctx: Context, dataset, i: int, name: str) -> bytes:
    try:
        item = dataset[i]
    except Exception as exc:
        raise UserError(f"{ctx.target.where(f'{name}_loader')}'s dataset raised {describe_exception(exc)} on "
                        f"item {i} (read with its transform switched off, to compare train and val)") from exc
    return parts.digest(_bytes(_item_inputs(ctx, item)))


def _item_inputs(ctx: Context, item):
    """The input part of one dataset item: the first entry of a tuple, a dict less its target."""
    if isinstance(item, (tuple, list)) and len(item) >= 2:
        return item[0]
    if isinstance(item, dict):
        ikey, tkey = dict_keys(item, ctx.input_key, ctx.target_key)
        return item[ikey] if ikey in item else {k: v for k, v in item.items() if k != tkey}
    return item


def _bytes(x) -> bytes:
    """The bytes of one sample's inputs: a tensor's as DLC708 reads them, an array's or a PIL
    image's pixels, a dict's or sequence's entries in turn."""
    if isinstance(x, torch.Tensor):
        return parts.row_bytes(x.reshape(1, -1))[0]
    if isinstance(x, dict):
        return b"\0".join(str(k).encode() + b"=" + _bytes(v) for k, v in sorted(x.items(), key=lambda kv: str(kv[0])))
    if isinstance(x, str):
        return x.encode()
    if isinstance(x, bytes):
        return x
    try:
        a = np.asarray(x)
    except Exception:  # noqa: BLE001 - anything numpy cannot read is compared by its repr
        a = None
    if a is not None and a.dtype != object:
        return str(a.shape).encode() + np.ascontiguousarray(a).tobytes()
    if isinstance(x, (tuple, list)):
        return b"\1".join(_bytes(v) for v in x)
    return repr(x).encode()


def _batches(ctx: Context, cap: int) -> Leakage:
    """Both loaders read batch by batch (one of them has no indexable dataset)."""
    lk = Leakage(how=BATCHES, caveat=UNINDEXED)
    seen: dict[bytes, tuple[int, int]] = {}
    for name in ("train", "val"):
        loader = _again(ctx, name)
        if loader is None:
            return Leakage(reason=f"{ctx.target.where(f'{name}_loader')} is a one-shot iterator, already "
                                 f"read: it cannot be read again to compare train and val")
        read = 0
        for b, batch in enumerate(loader):
            try:
                digests = parts.sample_digests(ctx.split(batch, b, name)[0], batch)
            except UserError as exc:
                return Leakage(reason=f"the batches cannot be taken apart into inputs ({exc})")
            if not digests:
                return Leakage(reason="the batches hold no input tensor of one row per sample")
            for i, d in enumerate(digests[:cap - read]):
                if name == "train":
                    lk.train_repeats += d in seen
                    seen.setdefault(d, (b, i))
                else:
                    _match(ctx, lk, seen.get(d), f"val batch {b} sample {i}", lambda at: f"train batch {at[0]} "
                                                                                        f"sample {at[1]}")
            read += min(len(digests), cap - read)
            if read >= cap:
                break
        else:
            if name == "train":
                lk.train_total = read
        setattr(lk, f"{name}_hashed", read)
    return lk


def _again(ctx: Context, name: str):
    """The loader, to be read from its start (a generator from a factory made afresh); None for a
    one-shot iterator handed over as an object."""
    loader = ctx.loader(name)
    if hasattr(loader, "__next__"):
        if not callable(getattr(ctx.target, f"{name}_loader")) or hasattr(getattr(ctx.target, f"{name}_loader"),
                                                                           "__next__"):
            return None
        ctx._loaders.pop(name, None)
        loader = ctx.loader(name)
    return loader


# -- judging and reporting --------------------------------------------------------------------
def explained(lk: Leakage, s: Settings) -> bool:
    """The overlap is what the train set's own copies give under a random split (or a chance pair)."""
    return lk.in_train <= max(int(s["leak_chance_count"]), s["leak_duplicate_factor"] * lk.repeat_share * lk.val_hashed)


def leakage(m, task, s: Settings) -> Finding | None:
    """DLC715: validation samples identical (by input bytes) to training samples; DLC710 (info) when
    a val loader is given but the overlap cannot be measured honestly."""
    lk = m.leakage
    if lk is None or not lk.val_given:
        return None
    if lk.reason is not None:
        return finding("DLC710", f"train/validation overlap not measured: {lk.reason}")
    if not lk.in_train:
        return None
    shown = "; ".join(f"{v} = {t}" for v, t in lk.examples)
    lower = f" (only the first {lk.train_hashed} train samples read: a lower bound)" if lk.partial else ""
    said = (f"{lk.in_train} of {lk.val_hashed} validation samples ({lk.share:.1%}) are identical to a training "
            f"sample{lower}; e.g. {shown}")
    if explained(lk, s):
        return finding("DLC715", f"{said}. The train set itself repeats {lk.repeat_share:.1%} of its samples: a "
                                 f"random split of data with that many identical records puts about this many "
                                 f"on both sides; the data, not necessarily the split (unless the copies come from "
                                 f"oversampling or augmenting before the split)", severity="info",
                       advice="If identical records are distinct events, this is expected; if they are copies of "
                              "one record, deduplicate (or group them) before splitting.")
    severity = "fail" if lk.share >= s["leak_fail_share"] else "warn"
    return finding("DLC715", f"{said}: validation metrics measure memory of these samples, not generalisation",
                   severity=severity)


def metrics(lk: Leakage) -> dict:
    if lk.reason is not None:
        return {}
    return {"val_in_train": lk.in_train, "val_in_train_share": round(lk.share, 6)}


def details(lk: Leakage) -> dict:
    if lk.reason is not None:
        return {"leakage": {"measured": False, "reason": lk.reason}}
    return {"leakage": {"measured": True, "compared": lk.how, "caveat": lk.caveat or None,
                        "train_samples": lk.train_hashed, "train_total": lk.train_total,
                        "train_repeats": lk.train_repeats, "val_samples": lk.val_hashed, "val_total": lk.val_total,
                        "val_in_train": lk.in_train, "share": lk.share,
                        "examples": [{"val": v, "train": t} for v, t in lk.examples]}}


def summary(lk: Leakage) -> str:
    """The summary's part on leakage ('' without a val loader)."""
    if not lk.val_given:
        return ""
    if lk.reason is not None:
        return "; train/val overlap not measured"
    seen = f"{lk.in_train} of {lk.val_hashed} val samples found in train"
    return f"; {seen}" + (" (as yielded: an augmentation would hide copies)" if lk.caveat and not lk.in_train else "")
