"""What a batch is: ``(inputs, targets)`` tuples/lists, dicts with known keys, or whatever the
target's ``forward(model, batch)`` understands. And what a model's output is: the logits tensor."""

from __future__ import annotations

import inspect
from typing import Any

import torch

from dlcheck.errors import UserError, describe_exception

INPUT_KEYS = ("inputs", "input", "x", "images", "image", "pixel_values", "input_ids", "features", "data")
TARGET_KEYS = ("targets", "target", "labels", "label", "y")


def first_batches(loader, n: int, where: str, stop=None) -> list:
    """The first ``n`` batches of ``loader`` (fewer when it is shorter, or once ``stop()`` says so
    after a batch: the time budget is spent); an empty one is an error."""
    try:
        iterator = iter(loader)
    except TypeError:
        raise UserError(f"{where} is a {type(loader).__name__}, not an iterable of batches") from None
    batches = []
    for batch in iterator:
        batches.append(batch)
        if len(batches) >= n or (stop is not None and stop()):
            break
    if not batches:
        raise UserError(f"{where} yielded no batches")
    return batches


def dict_keys(batch: dict, input_key: str | None = None, target_key: str | None = None):
    """The keys of the inputs and the targets in a dict batch (or dataset item): the ones given,
    else the first of the usual names present; the inputs' also when one key is left besides the
    targets' (``{'feats': x, 'labels': y}``). None where there is none: a batch of several inputs
    without a usual name (``{'cat', 'num', 'labels'}``) reaches the model by its forward's names."""
    tkey = target_key or next((k for k in TARGET_KEYS if k in batch), None)
    ikey = input_key or next((k for k in INPUT_KEYS if k in batch), None)
    if ikey is None and tkey in batch:
        rest = [k for k in batch if k != tkey]
        ikey = rest[0] if len(rest) == 1 else None
    return ikey, tkey


def split_batch(batch: Any, index: int, where: str, input_key: str | None = None,
                target_key: str | None = None) -> tuple[Any, torch.Tensor]:
    """``(inputs, targets)`` from a tuple/list or dict batch; one clear error for anything else.
    A dict batch's inputs are its input key's value, else a dict of every key but the targets'."""
    if isinstance(batch, (tuple, list)) and len(batch) >= 2:
        return batch[0], batch[1]
    if isinstance(batch, dict):
        return _split_dict(batch, index, where, input_key, target_key)
    kind = type(batch).__name__
    if isinstance(batch, torch.Tensor):
        kind = f"Tensor of shape {tuple(batch.shape)}"
    raise UserError(f"{where} batch {index} is a {kind}, not an (inputs, targets) pair; "
                    f"yield pairs or define forward(model, batch) in the target")


def _split_dict(batch: dict, index: int, where: str, input_key: str | None, target_key: str | None):
    ikey, tkey = dict_keys(batch, input_key, target_key)
    keys = sorted(map(str, batch))
    for key, given, name in ((tkey, target_key, "target_key"), (ikey, input_key, "input_key")):
        if given is not None and given not in batch:
            raise UserError(f"{where} batch {index} is a dict with keys {keys}, without the {name} "
                            f"{given!r}: set {name} to one of them")
    if tkey not in batch:
        raise UserError(f"{where} batch {index} is a dict with keys {keys}; dlcheck cannot tell "
                        f"which holds the targets (none is named {'/'.join(TARGET_KEYS)}): set "
                        f"target_key in the target or the recipe (--target-key), or define "
                        f"forward(model, batch)")
    if ikey is not None:
        return batch[ikey], batch[tkey]
    return {k: v for k, v in batch.items() if k != tkey}, batch[tkey]


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


_SIGNATURES: dict[type, tuple[frozenset, bool]] = {}


def _signature(model) -> tuple[frozenset, bool]:
    """The parameter names the model's forward takes by keyword, and whether it takes **kwargs."""
    module = getattr(model, "module", model)  # DistributedDataParallel and friends wrap the model
    fn = module.forward if hasattr(module, "forward") else module
    key = type(module)
    if key not in _SIGNATURES:
        try:
            params = inspect.signature(fn).parameters.values()
        except (TypeError, ValueError):
            params = []
        named = frozenset(p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))
        _SIGNATURES[key] = (named, any(p.kind == p.VAR_KEYWORD for p in params))
    return _SIGNATURES[key]


def forward_names(model) -> frozenset:
    """The parameter names the model's forward takes by keyword."""
    return _signature(model)[0]


def dict_call(model, batch: dict, input_key: str | None = None,
              target_key: str | None = None) -> tuple[tuple, dict, list[str]]:
    """How a dict batch reaches the model, as the Hugging Face Trainer does it: every key the
    model's forward names is passed by keyword (the target key only when the forward names it;
    with ``**kwargs`` every key but the target's). When the forward does not name the input key
    (``forward(self, x)``), the inputs go first, by position, and the other named keys by keyword.
    A batch of several inputs without an input key (``{'cat', 'num', 'labels'}``) needs a forward
    that names them (``forward(self, cat, num)``).
    Returns ``(args, kwargs, left_out)``; ``left_out`` are the keys the model does not get."""
    ikey, tkey = dict_keys(batch, input_key, target_key)
    named, var_kw = _signature(model)
    if ikey is None or ikey in named:
        chosen = [k for k in batch if k in named or (var_kw and k != tkey and isinstance(k, str))]
        args = ()
        if ikey is None and not [k for k in chosen if k != tkey]:
            raise UserError(f"a dict batch with keys {sorted(map(str, batch))} holds several inputs, and "
                            f"the model's forward names none of them: name them in the forward "
                            f"(forward(self, {', '.join(str(k) for k in batch if k != tkey)})), set "
                            f"input_key (--input-key) to the one it takes, or define forward(model, batch)")
    else:
        chosen = [k for k in batch if k in named and k != ikey]
        args = (batch[ikey],)
    kwargs = {k: batch[k] for k in chosen}
    passed = set(chosen) | ({ikey} if args else set())
    left_out = [str(k) for k in batch if k not in passed and k != tkey]
    return args, kwargs, left_out


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


def describe_value(value: Any) -> str:
    """``of shape (64, 10)``, ``(a tuple of 2: (64, 10), (64, 10))``: a model output in a message."""
    if isinstance(value, torch.Tensor):
        return f"of shape {tuple(value.shape)}"
    if isinstance(value, (tuple, list)):
        parts = ", ".join(str(tuple(v.shape)) if isinstance(v, torch.Tensor) else type(v).__name__
                          for v in value[:4])
        return f"(a {type(value).__name__} of {len(value)}: {parts})"
    if isinstance(value, dict):
        return f"(a dict with keys {', '.join(map(str, list(value)[:6]))})"
    return f"(a {type(value).__name__})"


class Reading:
    """A loader (or an iterator over one) whose exceptions name the loader and the batch being
    read: ``'train_loader' in setup.py raised ValueError: corrupt record while reading batch 3``."""

    def __init__(self, loader, where: str, read_from=None):
        self.loader, self.where, self.iterator = loader, where, read_from

    def __iter__(self):
        if self.iterator is None:
            try:
                self.iterator = iter(self.loader)
            except TypeError:
                raise UserError(f"{self.where} is a {type(self.loader).__name__}, not an iterable of "
                                f"batches") from None
        index = 0
        while True:
            try:
                batch = next(self.iterator)
            except StopIteration:
                return
            except UserError:
                raise
            except Exception as exc:
                raise read_error(self.where, exc, index) from exc
            yield batch
            index += 1


def read_error(where: str, exc: Exception, index: int) -> UserError:
    """A loader's exception while reading batch ``index``, named as the loader's."""
    return UserError(f"{where} raised {describe_exception(exc)} while reading batch {index}")


def cross_entropy_hint(logits, targets) -> str:
    """Why outputs of the wrong rank do not fit the default cross-entropy, in words (or '')."""
    if not isinstance(logits, torch.Tensor) or not isinstance(targets, torch.Tensor):
        return ""
    if logits.dim() == 1:
        return ("one value per sample has no class axis; CrossEntropyLoss wants (batch, classes): "
                "return one column per class, or set loss_fn for regression or binary targets")
    if logits.dim() >= 3 and targets.shape == logits.shape[:-1]:
        return ("the classes are on the last axis, but CrossEntropyLoss wants them on axis 1 "
                "(batch, classes, ...): permute the outputs in forward(model, batch), or flatten "
                "them to (batch * positions, classes)")
    if logits.dim() >= 2 and targets.dim() not in (logits.dim() - 1, logits.dim()):
        return (f"CrossEntropyLoss wants outputs (batch, classes, ...) with targets of one axis fewer "
                f"(class indices) or the same shape (probabilities)")
    return ""
