"""The registry of checks, in recipe order (DESIGN §1). Torch-free: modules load on demand.

A check is a module ``dlcheck.checks.<name>`` with
    NAME: str                        the command name
    SETTINGS: dict[str, object]      every setting and threshold with its default (recipe-overridable)
    def run(ctx: Context) -> CheckResult
and a one-line entry in TITLES below.
"""

from __future__ import annotations

import importlib
import importlib.util

from dlcheck.errors import UserError

#: command name -> module, in the order `dlcheck run` runs them.
REGISTRY = {
    "init-loss": "dlcheck.checks.init_loss",
    "overfit-small": "dlcheck.checks.overfit_small",
    "lr-find": "dlcheck.checks.lr_find",
    "init-stats": "dlcheck.checks.init_stats",
    "bn-gap": "dlcheck.checks.bn_gap",
    "aug-preview": "dlcheck.checks.aug_preview",
    "data-check": "dlcheck.checks.data_check",
}

#: One line per check for help texts and `dlcheck list` (kept here so --help needs no torch).
TITLES = {
    "init-loss": "the loss at initialisation against ln(C) and the label entropy",
    "overfit-small": "overfit a tiny subset: the loss must reach ~0 and accuracy ~100 %",
    "lr-find": "the LR range test, with suggestions by more than one rule",
    "init-stats": "per-layer weight, activation and gradient statistics at initialisation",
    "bn-gap": "BatchNorm set-up and the train-vs-eval gap",
    "aug-preview": "an image grid of augmented samples, and what the augmentations do to them",
    "data-check": "input scale, NaN/Inf, labels, shuffling and input-label pairing",
}


def available() -> list[str]:
    """Checks whose module exists, in recipe order."""
    return [name for name, mod in REGISTRY.items() if importlib.util.find_spec(mod) is not None]


def load(name: str):
    """The check module for a command name."""
    if name not in REGISTRY:
        raise UserError(f"unknown check '{name}' (known: {', '.join(REGISTRY)})")
    if importlib.util.find_spec(REGISTRY[name]) is None:
        raise UserError(f"check '{name}' is not available in this version of dlcheck")
    return importlib.import_module(REGISTRY[name])
