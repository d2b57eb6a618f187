"""The datasets behind a loader, and their transforms switched off while raw samples are read
(aug-preview's sources, data-check's train/validation leakage). The user's dataset objects are
put back exactly as found, also on error and Ctrl-C."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from dlcheck.errors import UserError

#: The dataset attributes that hold a transform: the image's, then the joint one (VisionDataset).
TRANSFORM_ATTRIBUTES = ("transform", "transforms")


def identity(*args):
    """Stands in for a dataset's transform while raw samples are read: one argument back as it
    came, several (a joint transform's image and target) back as a tuple."""
    return args[0] if len(args) == 1 else args


def inner_datasets(dataset, path: str) -> Iterator[tuple[object, str]]:
    """The dataset and every dataset inside Subset / ConcatDataset wrappers, with access paths."""
    if dataset is None:
        return
    yield dataset, path
    inner = getattr(dataset, "dataset", None)
    if inner is not None and inner is not dataset:
        yield from inner_datasets(inner, path + ".dataset")
    for i, part in enumerate(getattr(dataset, "datasets", None) or []):
        yield from inner_datasets(part, f"{path}.datasets[{i}]")


@contextlib.contextmanager
def transforms_off(*named: tuple[object, str], strict: bool = True):
    """Every transform (``transform`` and joint ``transforms``) on the named datasets and the
    datasets inside them swapped for :func:`identity`, put back in ``finally``. A transform that
    cannot be swapped (a read-only property) is bad input when ``strict``, else stays."""
    swapped = []
    try:
        for dataset, path in named:
            for ds, where in inner_datasets(dataset, path):
                for attr in TRANSFORM_ATTRIBUTES:
                    saved = getattr(ds, attr, None)
                    if saved is None or not callable(saved) or saved is identity:
                        continue
                    try:
                        setattr(ds, attr, identity)
                    except AttributeError:
                        if strict:
                            raise UserError(f"{where}.{attr} cannot be switched off to read raw samples") from None
                        continue
                    swapped.append((ds, attr, saved))
        yield
    finally:
        for ds, attr, saved in reversed(swapped):
            setattr(ds, attr, saved)
