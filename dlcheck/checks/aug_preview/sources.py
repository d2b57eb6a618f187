"""aug-preview: the train transform and the raw samples it is applied to (every dataset's
transform switched off while they are read). A transform may take the image alone or the image
and its target together (``transforms`` of torchvision's VisionDataset, ``transform(image,
mask)``): a joint one is called with both."""

from __future__ import annotations

import inspect

import numpy as np
import torch

from dlcheck.batches import dict_keys
from dlcheck.context import Context
from dlcheck.datasets import TRANSFORM_ATTRIBUTES, inner_datasets, transforms_off
from dlcheck.errors import UserError, describe_exception


class SeveralInputs(Exception):
    """The samples hold several inputs (a dict without an input key): which one the transform
    makes is unknown, so there is nothing to preview (the check is skipped with this reason)."""


def _several(keys, where: str) -> SeveralInputs:
    return SeveralInputs(f"{where} holds several inputs ({', '.join(map(str, keys))}) and no input key "
                         f"says which one the transform makes: set input_key (--input-key) to preview it")


def _find_transform(ctx: Context):
    """The target's ``train_transform``, else the first ``transform`` (or joint ``transforms``) on
    the train dataset: (transform, where, joint), joint when it takes the image and its target."""
    if ctx.target.train_transform is not None:
        transform = ctx.target.train_transform
        return transform, ctx.target.where("train_transform"), _takes_two(transform)
    loader = ctx.loader("train")
    for ds, path in inner_datasets(getattr(loader, "dataset", None), "train_loader.dataset"):
        for attr in TRANSFORM_ATTRIBUTES:
            transform = getattr(ds, attr, None)
            if transform is None or not callable(transform):
                continue
            if type(transform).__name__ == "StandardTransform":  # VisionDataset's wrapper of `transform`
                continue
            return transform, f"{path}.{attr}", attr == "transforms" or _takes_two(transform)
    return None, None, False


def _takes_two(transform) -> bool:
    """True for a callable with two or more required positional parameters (``fn(image, mask)``)."""
    try:
        params = inspect.signature(transform).parameters.values()
    except (TypeError, ValueError):
        return False
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return sum(p.kind in kinds and p.default is inspect.Parameter.empty for p in params) >= 2


def _raw_sources(ctx: Context, count: int) -> list[dict]:
    """``count`` samples before the transform: ``dataset[i]`` with every dataset's transform swapped
    for the identity (put back in ``finally``), or the loader's first batches without a dataset."""
    dataset = getattr(ctx.loader("train"), "dataset", None)
    if dataset is None or not hasattr(dataset, "__getitem__") or not hasattr(dataset, "__len__"):
        inputs = []
        ctx.raw_batches(1)  # a clear error for a loader that is empty or not iterable
        for i, batch in enumerate(ctx.loader("train")):  # batches until there are enough samples
            x, y = ctx.split(batch, i)
            if isinstance(x, dict):
                raise _several(x, f"each batch of {ctx.target.where('train_loader')}")
            inputs += [{"index": len(inputs) + j, "x": x[j], "target": y[j] if y is not None else None,
                        "label": _label(y[j] if y is not None else None)} for j in range(len(x))]
            if len(inputs) >= count:
                break
        return inputs[:count]
    n = len(dataset)
    if n == 0:
        raise UserError(f"{ctx.target.where('train_loader')} has an empty dataset")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(ctx.seed))[:count].tolist()
    with transforms_off((dataset, "train_loader.dataset")):
        sources = []
        for i in order:
            try:
                item = dataset[i]
            except Exception as exc:
                raise UserError(f"{ctx.target.where('train_loader')}'s dataset raised "
                                f"{describe_exception(exc)} on sample {i}") from exc
            x, y = _split_item(item, ctx)
            sources.append({"index": i, "x": x, "target": y, "label": _label(y)})
        return sources


def _split_item(item, ctx: Context):
    if isinstance(item, (tuple, list)):
        return item[0], (item[1] if len(item) > 1 else None)
    if isinstance(item, dict):
        ikey, tkey = dict_keys(item, ctx.input_key, ctx.target_key)
        if ikey is None:
            raise _several([k for k in item if k != tkey], f"each sample of {ctx.target.where('train_loader')}")
        if ikey not in item:
            raise UserError(f"{ctx.target.where('train_loader')}'s dataset yields dicts with keys "
                            f"{sorted(map(str, item))}, without the input_key {ikey!r}")
        return item[ikey], item.get(tkey)
    return item, None


def _class_names(ctx: Context) -> list[str] | None:
    """``dataset.classes`` (torchvision's datasets, ImageFolder) of the train dataset or of a
    dataset inside its wrappers, when it is a list of names."""
    for ds, _ in inner_datasets(getattr(ctx.loader("train"), "dataset", None), "train_loader.dataset"):
        names = getattr(ds, "classes", None)
        if isinstance(names, (list, tuple)) and names and all(isinstance(n, str) for n in names):
            return list(names)
    return None


def _caption(src: dict, class_names: list[str] | None) -> str:
    """``#44 airplane`` (the sample index and its class name), ``#44 class 3`` without names."""
    label = src["label"]
    if label is None:
        return f"#{src['index']}"
    if class_names is not None and label.lstrip("-").isdigit() and 0 <= int(label) < len(class_names):
        return f"#{src['index']} {class_names[int(label)]}"
    return f"#{src['index']} class {label}" if label.lstrip("-").isdigit() else f"#{src['index']} {label}"


def _label(y) -> str | None:
    """A caption for a scalar label, else None."""
    if isinstance(y, (int, np.integer, str)):
        return str(y)
    if isinstance(y, torch.Tensor) and y.numel() == 1:
        v = y.item()
        return str(int(v)) if float(v).is_integer() else f"{v:.3g}"
    if isinstance(y, (float, np.floating)):
        return f"{y:.3g}"
    return None
