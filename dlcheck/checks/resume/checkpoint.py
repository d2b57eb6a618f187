"""resume's checkpointing: the target's own ``save_checkpoint`` / ``load_checkpoint`` when it defines
them, else dlcheck's default (the model's, optimizer's and scheduler's ``state_dict``s and the RNG
states, loaded back with ``torch.load(..., weights_only=True)``); and what a model object holds
(every tensor it uses, whether its ``state_dict`` saves it) and fingerprints to compare two runs."""

from __future__ import annotations

import hashlib
import inspect
import random

import numpy as np
import torch
from torch import nn

from dlcheck.errors import UserError, describe_exception


class CheckpointError(Exception):
    """Saving or loading the checkpoint failed: the message says where and what it raised."""


def rng_state() -> dict:
    """Every RNG's state as tensors, ints and tuples alone (loadable with ``weights_only=True``)."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {"python": random.getstate(), "torch": torch.get_rng_state(),
            "numpy": (kind, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(cached)),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


def set_rng_state(state: dict) -> None:
    random.setstate(_tuples(state["python"]))
    torch.set_rng_state(state["torch"].cpu())
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


def _tuples(obj):
    """Python's RNG state with its lists made tuples again (a round trip through torch.save may keep them)."""
    return tuple(_tuples(o) for o in obj) if isinstance(obj, (list, tuple)) else obj


def save(target, path: str, model: nn.Module, optimizer, scheduler, data: dict | None = None) -> None:
    """The target's ``save_checkpoint(path, model, optimizer[, scheduler=...])``, else dlcheck's
    default (with ``data``, the loader's or sampler's state from :func:`data_state`)."""
    own = target.save_checkpoint
    if own is not None:
        _call(own, target.where("save_checkpoint"), path, model, optimizer, scheduler)
        return
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "rng": rng_state()}
    if scheduler is not None:
        state["scheduler"] = scheduler.state_dict()
    if data is not None:
        state["data"] = data
    torch.save(state, path)


# -- the data stream's state ----------------------------------------------------------------
_HOLDERS = ("loader", "sampler", "batch_sampler")


def _holder(loader, where: str):
    return loader if where == "loader" else getattr(loader, where, None)


def data_state(loader) -> dict | None:
    """``{"holder", "state"}``: the ``state_dict()`` of the loader itself (torchdata's
    StatefulDataLoader), else of its sampler or batch sampler (a resumable sampler of the user's);
    None when none of them has ``state_dict``/``load_state_dict``."""
    for where in _HOLDERS:
        obj = _holder(loader, where)
        if obj is not None and callable(getattr(obj, "state_dict", None)) and \
                callable(getattr(obj, "load_state_dict", None)) and not isinstance(obj, nn.Module):
            return {"holder": where, "state": obj.state_dict()}
    return None


def saved_data(path: str) -> dict | None:
    """The data state in dlcheck's default checkpoint (None: none saved)."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True).get("data")
    except Exception as exc:
        raise CheckpointError(f"loading dlcheck's checkpoint raised {describe_exception(exc)}") from exc


def restore_data(loader, data: dict) -> None:
    """Load a saved data state into the same holder of a rebuilt loader."""
    obj = _holder(loader, data["holder"])
    if obj is None or not callable(getattr(obj, "load_state_dict", None)):
        raise CheckpointError(f"the rebuilt train_loader has no {data['holder']} with load_state_dict "
                              f"to restore the saved data state into")
    try:
        obj.load_state_dict(data["state"])
    except Exception as exc:
        raise CheckpointError(f"the {data['holder']}'s load_state_dict raised {describe_exception(exc)}") from exc


def load(target, path: str, model: nn.Module, optimizer, scheduler, device: torch.device) -> None:
    """The target's ``load_checkpoint(path, model, optimizer[, scheduler=...])``, else dlcheck's
    default (strict: a key or shape mismatch is a CheckpointError)."""
    own = target.load_checkpoint
    if own is not None:
        _call(own, target.where("load_checkpoint"), path, model, optimizer, scheduler)
        return
    try:
        state = torch.load(path, map_location=device, weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if scheduler is not None:
            scheduler.load_state_dict(state["scheduler"])
        set_rng_state(state["rng"])
    except Exception as exc:
        raise CheckpointError(f"loading dlcheck's checkpoint into a freshly built model raised "
                              f"{describe_exception(exc)}") from exc


def _call(fn, where: str, path, model, optimizer, scheduler) -> None:
    args = bound_args(fn, where, path, model, optimizer, scheduler)
    try:
        fn(*args[0], **args[1])
    except Exception as exc:
        raise CheckpointError(f"{where} raised {describe_exception(exc)}") from exc


def bound_args(fn, where: str, path, model, optimizer, scheduler) -> tuple[tuple, dict]:
    """How to call the user's ``fn``: ``(path, model, optimizer, scheduler=...)``, or the scheduler
    fourth by position when its parameter has another name (``lr_scheduler``); a signature that takes
    neither is bad input (a UserError naming the signature dlcheck calls), not a resume finding."""
    tries = [((path, model, optimizer), {})] if scheduler is None else \
        [((path, model, optimizer), {"scheduler": scheduler}), ((path, model, optimizer, scheduler), {})]
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):  # a builtin or C callable: no signature to check, call it as documented
        return tries[0]
    for args, kwargs in tries:
        try:
            sig.bind(*args, **kwargs)
            return args, kwargs
        except TypeError:
            continue
    name = where.split()[0].strip("'")
    extra = ", scheduler" if scheduler is not None else ""
    raise UserError(f"{where} has the signature {name}{sig}, but dlcheck calls {name}(path, model, optimizer"
                    f"{extra}) with path a checkpoint file to write or read")


# -- what the model holds -------------------------------------------------------------------
def held_tensors(model: nn.Module) -> dict[str, tuple[str, torch.Tensor]]:
    """Every tensor the model object uses: name -> (kind, tensor); kind is "parameter",
    "buffer", "non-persistent buffer" or "plain attribute" (a tensor set as ``self.x = ...``,
    which neither the optimizer's ``model.parameters()`` nor ``state_dict()`` sees)."""
    out = {}
    for prefix, module in model.named_modules():
        dot = f"{prefix}." if prefix else ""
        for name, p in module._parameters.items():
            if p is not None:
                out[dot + name] = ("parameter", p)
        for name, b in module._buffers.items():
            if b is not None:
                kind = "non-persistent buffer" if name in module._non_persistent_buffers_set else "buffer"
                out[dot + name] = (kind, b)
        for name, value in vars(module).items():
            if isinstance(value, torch.Tensor) and not name.startswith("_"):
                out[dot + name] = ("plain attribute", value)
    return out


def snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    """A detached copy of every tensor the model holds."""
    return {name: t.detach().clone() for name, (_, t) in held_tensors(model).items()}


def differing(before: dict[str, torch.Tensor], model: nn.Module, exact: bool, rtol: float) -> list[str]:
    """The names of the tensors whose values differ from ``before``."""
    now = held_tensors(model)
    return [name for name, t in before.items()
            if name in now and not same(t, now[name][1].detach(), exact, rtol)]


def same(a: torch.Tensor, b: torch.Tensor, exact: bool, rtol: float) -> bool:
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if exact or not a.is_floating_point():
        return bool(torch.equal(a, b.to(a.device)))
    return bool(torch.allclose(a.double(), b.to(a.device).double(), rtol=rtol, atol=rtol))


def fingerprint(tensors) -> list[tuple[str, float]]:
    """Per tensor: a hash of its bytes and its float64 sum (exact or near comparisons of two runs
    without keeping their tensors)."""
    out = []
    for t in tensors:
        t = t.detach()
        data = t.cpu().contiguous()
        digest = hashlib.sha1(data.reshape(-1).view(torch.uint8).numpy().tobytes() if data.numel() else b"").hexdigest()
        out.append((digest, float(t.double().sum()) if t.is_floating_point() else 0.0,
                    float(t.double().abs().sum()) if t.is_floating_point() else 0.0))
    return out


def same_prints(a, b, exact: bool, rtol: float) -> bool:
    if len(a) != len(b):
        return False
    if exact:
        return all(x[0] == y[0] for x, y in zip(a, b))
    return all(abs(x[1] - y[1]) <= rtol * max(x[2], y[2], 1e-12) for x, y in zip(a, b))


def batch_hash(batch) -> str:
    """One hash of a batch's tensors (and other values) in order."""
    h = hashlib.sha1()
    _feed(h, batch)
    return h.hexdigest()


def _feed(h, obj) -> None:
    if isinstance(obj, torch.Tensor):
        data = obj.detach().cpu().contiguous()
        h.update(str((tuple(data.shape), str(data.dtype))).encode())
        h.update(data.reshape(-1).view(torch.uint8).numpy().tobytes() if data.numel() else b"")
    elif isinstance(obj, dict):
        for key in obj:
            h.update(repr(key).encode())
            _feed(h, obj[key])
    elif isinstance(obj, (list, tuple)):
        for o in obj:
            _feed(h, o)
    else:
        h.update(repr(obj).encode())
