"""PNG plots from plain result data (matplotlib, Agg backend: no display needed).

Checks compute numbers; these functions only draw them. Each takes the path to write and the data.
"""

from __future__ import annotations

from pathlib import Path


def figure(width: float = 6.4, height: float = 4.0):
    """A new (fig, ax) on the Agg backend; imported lazily so the CLI starts fast."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(width, height))


def save(fig, path: str | Path) -> None:
    """Write ``fig`` as PNG and free it."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# -- overfit-small / lr-find ------------------------------------------------------------------


# -- init-stats / bn-gap ----------------------------------------------------------------------


# -- aug-preview / data-check -----------------------------------------------------------------
