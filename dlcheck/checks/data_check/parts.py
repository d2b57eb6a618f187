"""Taking a batch apart for data-check: its input tensors by name, its targets, what kind they
are, each sample's bytes (for duplicates)."""

from __future__ import annotations

import contextlib
import hashlib

import torch

from dlcheck.checks.data_check.pairing import same
from dlcheck.context import Context
from dlcheck.device import map_tensors
from dlcheck.errors import UserError


def logits_or_none(ctx: Context, outputs):
    try:
        return ctx.logits(outputs)
    except UserError:
        return None


def target_kind(task, targets: torch.Tensor) -> str:
    """What the targets are, from the task (inferred once per run) and, without one, the dtype."""
    if task.kind == "regression":
        return "regression"
    if task.kind == "multilabel":
        return "multilabel"
    if task.kind == "classification" and task.soft_targets and not task.problem:
        return "soft"
    if targets.dtype.is_floating_point or targets.is_complex():
        return "float"
    return "classes"


def matches(a, b) -> bool:
    """The same tensor values, also when one is the other flattened ((B, T) -> (B*T,))."""
    if same(a, b):
        return True
    return (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.numel() == b.numel()
            and a.numel() > 0 and bool((a.reshape(-1) == b.reshape(-1)).all()))


def leading(value) -> int | None:
    """The first dimension of the first tensor in a batch or inputs (the number of samples)."""
    for _, v in leaves(value):
        if isinstance(v, torch.Tensor) and v.dim():
            return int(v.shape[0])
        if isinstance(v, (dict, tuple, list)):
            inner = leading(v)
            if inner is not None:
                return inner
    return None


def try_split(ctx: Context, batch):
    try:
        return ctx.split(batch)
    except UserError:
        return None


def tensor_targets(ctx: Context, targets, index: int) -> torch.Tensor:
    if not isinstance(targets, torch.Tensor):
        raise UserError(f"{ctx.target.where('train_loader')} batch {index}: the targets are a "
                        f"{type(targets).__name__}, not a tensor")
    return targets


def leaves(inputs, prefix: str = "inputs") -> list[tuple[str, object]]:
    """(name, value) of each part of the inputs: one tensor, or the entries of a tuple/dict."""
    if isinstance(inputs, dict):
        return [(f"{prefix}[{k!r}]", v) for k, v in inputs.items()]
    if isinstance(inputs, (tuple, list)):
        return [(f"{prefix}[{i}]", v) for i, v in enumerate(inputs)]
    return [(prefix, inputs)]


def tensor_leaves(ctx: Context, inputs, index: int) -> list[tuple[str, torch.Tensor]]:
    """The tensor parts of a batch's inputs; an error when there is none."""
    found = [(n, v) for n, v in leaves(inputs) if isinstance(v, torch.Tensor)]
    if not found:
        raise UserError(f"{ctx.target.where('train_loader')} batch {index}: the inputs are a "
                        f"{type(inputs).__name__} holding no tensor")
    return found


def kind(t: torch.Tensor) -> str:
    if t.is_complex():
        return "other"
    if t.dtype == torch.uint8 and t.dim() >= 3:
        return "image"
    if t.dtype == torch.bool or not (t.dtype.is_floating_point or t.dtype == torch.uint8):
        return "ids"
    return "image" if t.dim() >= 3 else "table"


def row_bytes(t: torch.Tensor) -> list[bytes]:
    flat = t.detach().cpu().reshape(t.shape[0], -1).contiguous()
    raw = flat.view(torch.uint8).numpy() if flat.numel() else flat.numpy()
    return [row.tobytes() for row in raw]


def digest(data: bytes) -> bytes:
    """The digest of one sample's bytes (duplicates DLC708, train/validation overlap DLC715)."""
    return hashlib.blake2b(data, digest_size=16).digest()


def sample_digests(inputs, batch=None) -> list[bytes] | None:
    """One digest per sample of a batch's inputs (every tensor part's bytes); [] without a tensor
    part, None when the parts disagree on the number of samples. A dict batch's 0/1
    ``attention_mask`` (batch, time) says which positions are the sample's own: only those count, so
    a sentence padded to another batch's length is the same sample (dynamic padding)."""
    pieces = [v for _, v in leaves(inputs) if isinstance(v, torch.Tensor) and v.dim() >= 1]
    if not pieces:
        return []
    n = pieces[0].shape[0]
    if any(p.shape[0] != n for p in pieces):
        return None
    kept = _attended(batch if batch is not None else inputs, n)
    if kept is not None:
        return [digest(b"".join(_row(p[i], kept[i]) for p in pieces)) for i in range(n)]
    rows = [row_bytes(p) for p in pieces]
    return [digest(b"".join(r[i] for r in rows)) for i in range(n)]


def _attended(batch, n: int) -> torch.Tensor | None:
    """A dict batch's attention mask as (n, T) booleans, when it is one of 0s and 1s; else None."""
    mask = batch.get("attention_mask") if isinstance(batch, dict) else None
    if not isinstance(mask, torch.Tensor) or mask.dim() != 2 or mask.shape[0] != n or mask.is_floating_point():
        return None
    mask = mask.detach().cpu()
    return mask.bool() if bool(((mask == 0) | (mask == 1)).all()) else None


def _row(t: torch.Tensor, kept: torch.Tensor) -> bytes:
    """One sample's bytes: its attended positions alone when it has the mask's time axis."""
    t = t.detach().cpu()
    if t.dim() >= 1 and t.shape[0] == kept.shape[0]:
        t = t[kept]
    flat = t.reshape(1, -1).contiguous()
    return flat.view(torch.uint8).numpy().tobytes() if flat.numel() else b""


@contextlib.contextmanager
def model_arguments(model):
    """The tensors the model's forward is called with while the block runs (every leaf of its
    positional and keyword arguments, each call), caught by a pre-hook removed on exit."""
    seen: list[torch.Tensor] = []

    def catch(module, args, kwargs):
        map_tensors((args, kwargs), seen.append)

    handle = model.register_forward_pre_hook(catch, with_kwargs=True)
    try:
        yield seen
    finally:
        handle.remove()


def given_as_is(t: torch.Tensor, arguments: list[torch.Tensor] | None) -> bool | None:
    """Whether the model was given ``t`` as it is (its values, maybe cast or reshaped); None when
    unknown: no tensor reached the model's own forward (a step that calls its submodules, say)."""
    if not arguments:
        return None
    return any(a.numel() == t.numel() and a.device == t.device and a.numel() > 0
               and torch.equal(a.reshape(t.shape).to(t.dtype), t) for a in arguments)


def levels(t: torch.Tensor, kind: str) -> int | None:
    """A table's (or a 3-axis float batch's) distinct finite values in one batch, counted up to 257
    (pixels flattened to a row, or cast to float, share one grid of at most 256 levels, whatever
    affine map normalised them)."""
    if not t.is_floating_point() or not (kind == "table" or (kind == "image" and t.dim() == 3)):
        return None
    return min(int(torch.unique(t[torch.isfinite(t)][:100_000]).numel()), 257)


def fed_to_model(ctx, batch, targets: torch.Tensor) -> bool:
    """True when the model itself is given the targets (an autoencoder reconstructs its input):
    one forward of ``batch``, the model's arguments caught by a pre-hook (removed at once)."""
    with ctx.model() as model, torch.no_grad(), model_arguments(model) as seen:
        try:
            ctx.forward(model, batch, 0)
        except Exception:  # the checks that run the model say what is wrong with it
            return False
    return any(v.shape == targets.shape and v.device == targets.device and torch.equal(v, targets) for v in seen)
