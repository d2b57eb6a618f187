"""dlcheck where users train: a Lightning callback (:mod:`dlcheck.integrations.lightning`) and a
Hugging Face ``TrainerCallback`` (:mod:`dlcheck.integrations.transformers`). Importing this
package imports no framework and no torch; each module imports its framework when used, and a
missing one is one sentence naming the package to install."""

from __future__ import annotations

import importlib

__all__ = ["ChecksFailed", "require"]


class ChecksFailed(RuntimeError):
    """Raised by a callback with ``policy="stop_on_fail"`` when it must stop training at once:
    ``report`` holds the dlcheck Report."""

    def __init__(self, message: str, report=None):
        super().__init__(message)
        self.report = report


def require(module: str, package: str):
    """``importlib.import_module(module)``, or a UserError naming the package to install."""
    from dlcheck.errors import UserError

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise UserError(f"this dlcheck integration needs the '{package}' package, which is not installed "
                        f"(pip install {package})") from exc
