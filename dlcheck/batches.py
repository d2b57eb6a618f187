"""What a batch is: ``(inputs, targets)`` tuples/lists, dicts with known keys, or whatever the
target's ``forward(model, batch)`` understands. And what a model's output is: the logits tensor."""

from __future__ import annotations

from typing import Any

import torch

from dlcheck.errors import UserError

INPUT_KEYS = ("inputs", "input", "x", "images", "image", "pixel_values", "input_ids", "features", "data")
TARGET_KEYS = ("targets", "target", "labels", "label", "y")


def first_batches(loader, n: int, where: str) -> list:
    """The first ``n`` batches of ``loader`` (fewer when it is shorter); an empty one is an error."""
    try:
        iterator = iter(loader)
    except TypeError:
        raise UserError(f"{where} is a {type(loader).__name__}, not an iterable of batches") from None
    batches = []
    for batch in iterator:
        batches.append(batch)
        if len(batches) >= n:
            break
    if not batches:
        raise UserError(f"{where} yielded no batches")
    return batches


def dict_keys(batch: dict, input_key: str | None = None, target_key: str | None = None):
    """The keys of the inputs and the targets in a dict batch (or dataset item): the ones given,
    else the first of the usual names present; None where there is none."""
    ikey = input_key or next((k for k in INPUT_KEYS if k in batch), None)
    tkey = target_key or next((k for k in TARGET_KEYS if k in batch), None)
    return ikey, tkey


def split_batch(batch: Any, index: int, where: str, input_key: str | None = None,
                target_key: str | None = None) -> tuple[Any, torch.Tensor]:
    """``(inputs, targets)`` from a tuple/list or dict batch; one clear error for anything else."""
    if isinstance(batch, (tuple, list)) and len(batch) >= 2:
        return batch[0], batch[1]
    if isinstance(batch, dict):
        ikey, tkey = dict_keys(batch, input_key, target_key)
        if ikey in batch and tkey in batch:
            return batch[ikey], batch[tkey]
        raise UserError(
            f"{where} batch {index} is a dict with keys {sorted(map(str, batch))}; dlcheck cannot tell "
            f"inputs from targets: set input_key/target_key in the recipe or define forward(model, batch)")
    kind = type(batch).__name__
    if isinstance(batch, torch.Tensor):
        kind = f"Tensor of shape {tuple(batch.shape)}"
    raise UserError(f"{where} batch {index} is a {kind}, not an (inputs, targets) pair; "
                    f"yield pairs or define forward(model, batch) in the target")


def rebatch(batches: list, size: int, where: str) -> list:
    """The samples of ``batches`` cut into batches of ``size`` (the last may be smaller), keeping
    each batch's structure: a tuple/list or dict of tensors whose first dimension is the sample."""
    first = batches[0]
    keys = list(first) if isinstance(first, dict) else list(range(len(first))) \
        if isinstance(first, (tuple, list)) else None
    if keys is None or not all(isinstance(first[k], torch.Tensor) and first[k].dim() for k in keys):
        raise UserError(f"{where}: batches must be tuples or dicts of tensors to be cut to another "
                        f"batch size; leave --batch-size unset")
    try:
        joined = {k: torch.cat([b[k] for b in batches]) for k in keys}
    except (RuntimeError, KeyError, IndexError, TypeError) as exc:
        raise UserError(f"{where}: batches differ in structure or shape and cannot be cut to another "
                        f"batch size ({exc.__class__.__name__}); leave --batch-size unset") from None
    total = len(next(iter(joined.values())))
    out = []
    for start in range(0, total, size):
        part = {k: v[start:start + size] for k, v in joined.items()}
        out.append(part if isinstance(first, dict) else type(first)(part[k] for k in keys))
    return out


def call_model(model, inputs):
    """``model(x)``, ``model(*x)`` for a tuple of inputs, ``model(**x)`` for a dict of inputs."""
    if isinstance(inputs, dict):
        return model(**inputs)
    if isinstance(inputs, (tuple, list)):
        return model(*inputs)
    return model(inputs)


def logits_of(output: Any, where: str = "the model") -> torch.Tensor:
    """The logits tensor inside a model's output (tensor, tuple, ``.logits``, ``{'logits': ..}``)."""
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], torch.Tensor):
        return output[0]
    logits = getattr(output, "logits", None)
    if isinstance(logits, torch.Tensor):
        return logits
    if isinstance(output, dict):
        for key in ("logits", "out", "output"):
            if isinstance(output.get(key), torch.Tensor):
                return output[key]
    raise UserError(f"{where} returned a {type(output).__name__}; dlcheck needs a tensor of outputs "
                    f"(define forward(model, batch) -> (outputs, targets) in the target)")
