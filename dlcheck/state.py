"""Hand back the user's model exactly as it was found (DESIGN §5).

``preserve_model`` snapshots weights, buffers, gradients, ``training`` flags, ``requires_grad``,
the device and every hook dict; ``preserve_rng`` the global RNGs. Both restore in ``finally``,
so also on error and Ctrl-C.
"""

from __future__ import annotations

import random
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

_HOOK_DICTS = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks",
               "_state_dict_hooks", "_load_state_dict_pre_hooks")


def rng_state() -> tuple:
    """The Python, NumPy and torch (CPU and CUDA) RNG states."""
    return (random.getstate(), np.random.get_state(), torch.get_rng_state(),
            torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None)


def set_rng_state(state: tuple) -> None:
    py_state, np_state, torch_state, cuda_states = state
    random.setstate(py_state)
    np.random.set_state(np_state)
    torch.set_rng_state(torch_state)
    if cuda_states is not None:
        torch.cuda.set_rng_state_all(cuda_states)


@contextmanager
def preserve_rng():
    """Restore Python, NumPy and torch (CPU and CUDA) RNG states on exit."""
    state = rng_state()
    try:
        yield
    finally:
        set_rng_state(state)


def _hook_keys(model: nn.Module):
    keys = {}
    for mod_name, module in model.named_modules():
        for attr in _HOOK_DICTS:
            hooks = getattr(module, attr, None)
            if hooks is not None:
                keys[(mod_name, attr)] = set(hooks.keys())
    for p_name, param in model.named_parameters():
        hooks = getattr(param, "_backward_hooks", None)
        keys[(p_name, "param")] = set(hooks.keys()) if hooks else set()
    return keys


def _remove_new_hooks(model: nn.Module, before) -> None:
    for mod_name, module in model.named_modules():
        for attr in _HOOK_DICTS:
            hooks = getattr(module, attr, None)
            if hooks is None:
                continue
            for key in list(hooks.keys()):
                if key not in before.get((mod_name, attr), set()):
                    del hooks[key]


@contextmanager
def preserve_model(model: nn.Module, weights: bool = True):
    """Snapshot ``model`` and restore it in place on exit.

    The very tensor objects go back into their modules (``.to(device)`` swaps buffers for new
    ones), so optimizers and references the user holds still point at live weights. With
    ``weights=False`` only buffers (BN running statistics) are kept: enough around a forward under
    ``torch.no_grad()`` of a model nobody else holds, without a copy of every weight.
    """
    slots = []  # (module, dict name, key, original tensor, its device, saved value, saved grad)
    kinds = ("_parameters", "_buffers") if weights else ("_buffers",)
    for module in model.modules():
        for kind in kinds:
            for key, t in getattr(module, kind).items():
                if t is None:
                    continue
                grad = t.grad.detach().clone() if kind == "_parameters" and t.grad is not None else None
                slots.append((module, kind, key, t, t.device, t.detach().clone(), grad))
    modes = [(m, m.training) for m in model.modules()]
    flags = [(p, p.requires_grad) for p in model.parameters()]
    hooks = _hook_keys(model)
    try:
        yield model
    finally:
        _remove_new_hooks(model, hooks)
        with torch.no_grad():
            for module, kind, key, t, device, value, grad in slots:
                if t.device != device:  # a parameter moved by .to(): its data goes back home
                    t.data = t.data.to(device)
                t.copy_(value)
                getattr(module, kind)[key] = t
                if kind == "_parameters":
                    t.grad = grad
        for m, mode in modes:
            m.training = mode
        for p, flag in flags:
            p.requires_grad_(flag)


class Hooks:
    """Collects hook handles; removal is idempotent and happens on exit of the ``with`` block."""

    def __init__(self):
        self._handles = []

    def add(self, handle):
        self._handles.append(handle)
        return handle

    def remove(self):
        while self._handles:
            self._handles.pop().remove()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
        return False
