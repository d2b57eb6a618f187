"""Targets that are not one tensor: None (self-supervised), tuples (CTC's labels and lengths),
dicts (distillation's labels and teacher logits), nested ones. Each part is named the way the
targets are indexed (``targets[0]``, ``targets['labels']``) and either judged as class labels
(only when the task says classification and exactly one part holds one class index per sample)
or skipped with the reason. When the target's forward takes such a batch apart, the inputs are
the batch entries that are not among the targets, so the input statistics still run."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class TargetPart:
    """One part of a target structure: its name, what it is, and why it is not judged."""

    part: str  # targets[0], targets['labels'], targets
    dtype: str
    shape: tuple | None  # of one sample (None: not a tensor)
    skipped: bool = True
    reason: str | None = None

    def row(self) -> dict:
        return {"part": self.part, "dtype": self.dtype,
                "shape": None if self.shape is None else "x".join(map(str, self.shape)) or "scalar",
                "skipped": self.skipped, "reason": self.reason}


def leaves(value, prefix: str = "targets") -> list[tuple[str, object]]:
    """(name, value) of every leaf of a nested tuple/list/dict, named as it is indexed."""
    if isinstance(value, dict):
        items = [(f"{prefix}[{k!r}]", v) for k, v in value.items()]
    elif isinstance(value, (tuple, list)):
        items = [(f"{prefix}[{i}]", v) for i, v in enumerate(value)]
    else:
        return [(prefix, value)]
    return [leaf for name, v in items for leaf in leaves(v, name)]


def pick(targets, name: str):
    """The leaf called ``name`` (as :func:`leaves` names it)."""
    return dict(leaves(targets))[name]


def _is_labels(v, samples: int | None) -> bool:
    return (isinstance(v, torch.Tensor) and v.dim() >= 1 and not v.dtype.is_floating_point
            and not v.is_complex() and v.dtype != torch.bool and (samples is None or v.shape[0] == samples))


def describe(targets, samples: int | None, classification: bool, kind: str) -> tuple[list[TargetPart], str | None]:
    """Every part of a non-tensor target, and the name of the part judged as class labels (None: none)."""
    found = leaves(targets)
    if targets is None:
        return [TargetPart("targets", "None", None, reason="the batches carry no targets (the forward returns "
                                                           "None): nothing to judge")], None
    candidates = [n for n, v in found if _is_labels(v, samples)]
    label = candidates[0] if classification and len(candidates) == 1 else None
    out = []
    for name, v in found:
        if not isinstance(v, torch.Tensor):
            out.append(TargetPart(name, type(v).__name__, None, reason="not a tensor"))
            continue
        part = TargetPart(name, str(v.dtype), tuple(v.shape[1:]))
        if name == label:
            part.skipped = False
        elif v.dtype.is_floating_point or v.is_complex():
            part.reason = ("float values in a target of several parts (teacher logits, soft targets, weights?): "
                           "dlcheck does not know what they should look like")
        elif name in candidates and classification:
            part.reason = (f"{len(candidates)} parts could be class labels ({', '.join(candidates)}): "
                           f"dlcheck cannot tell which one is")
        elif not classification:
            part.reason = (f"integers (class labels, label sequences or lengths?) and the task is {kind}, not "
                           f"classification: label checks skipped (set task = 'classification' in the target "
                           f"if this part holds one class label per sample)")
        else:
            part.reason = "not one class index per sample"
        out.append(part)
    return out, label


def input_slots(batch, targets) -> list | None:
    """Where the inputs sit in a batch whose targets the forward built: the entries that are tensors
    and not among the targets (``[None]``: the batch is the input tensor itself; None: unknown)."""
    if isinstance(batch, torch.Tensor):
        return [None]
    if isinstance(batch, dict):
        entries = list(batch.items())
    elif isinstance(batch, (tuple, list)):
        entries = list(enumerate(batch))
    else:
        return None
    parts = [v for _, v in leaves(targets) if isinstance(v, torch.Tensor)]

    def is_target(v):
        return any(v is p or (v.shape == p.shape and v.dtype == p.dtype and bool((v == p).all())) for p in parts)

    slots = [k for k, v in entries if isinstance(v, torch.Tensor) and not is_target(v)]
    return slots or None


def select(batch, slots: list):
    """The inputs at ``slots``: one tensor when there is one, else a dict (named by key) or tuple."""
    if slots == [None]:
        return batch
    if len(slots) == 1:
        return batch[slots[0]]
    if isinstance(batch, dict):
        return {k: batch[k] for k in slots}
    return tuple(batch[k] for k in slots)
