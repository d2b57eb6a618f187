"""dlcheck: sanity checks for PyTorch training set-ups, before you burn a GPU-day.

Importing this package does not import torch; the API functions do, when called.
"""

__version__ = "0.1.0"

__all__ = ["__version__", "check", "run"]


def __getattr__(name):
    # The Python API lives in dlcheck.api; loaded lazily so `import dlcheck` stays cheap.
    if name in ("check", "run"):
        from dlcheck import api

        return getattr(api, name)
    raise AttributeError(f"module 'dlcheck' has no attribute {name!r}")
